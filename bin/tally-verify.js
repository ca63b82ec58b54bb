#!/usr/bin/env node
// Package bin: runs the bundled CLI built by `npm run build` (npm install runs it via "prepare").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/tally-verify.js', import.meta.url);
if (!existsSync(fileURLToPath(bundle))) {
  console.error('tally-verify: dist/tally-verify.js is missing; run `npm run build` first.');
  process.exit(2);
}
await import(bundle.href);
