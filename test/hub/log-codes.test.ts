// The hub's log codes (hub/base/log-codes.ts) are exactly the table docs/hub.md lists under "Logs",
// both ways and with the same levels; every code a hub source logs is in that table or is a
// reason code (protocol's [P-9] or the hub's own); every code of the table is logged somewhere.
// A real hub then runs at trace: every line it writes is JSON with one of those codes.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, REASONS, topics, toHex } from '../../protocol/index.js';
import { HUB_LOG_CODES } from '../../hub/base/log-codes.js';
import { HUB_REASONS } from '../../hub/base/reasons.js';
import type { HubHandle } from '../../hub/server.js';
import { captureLogs } from '../../support/log-capture.js';
import { tempDir, testHub } from './helpers/hub.js';

const doc = readFileSync('docs/hub.md', 'utf8');
const logsSection = doc.slice(doc.indexOf('## Logs'), doc.indexOf('\n## ', doc.indexOf('## Logs') + 1));
const documented = new Map(
  [...logsSection.matchAll(/^\| `([A-Z0-9_]+)` \| (trace|debug|info|warn|error|fatal) \|/gm)].map((m) => [
    m[1]!,
    m[2]!,
  ]),
);
const reasonCodes = new Set([...Object.keys(REASONS), ...Object.keys(HUB_REASONS)]);
const allowed = new Set([...Object.keys(HUB_LOG_CODES), ...reasonCodes]);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'dashboard' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}
const hubSources = sources('hub').filter((p) => !p.endsWith('log-codes.ts'));
const hubText = hubSources.map((p) => readFileSync(p, 'utf8')).join('\n');

describe('hub log codes', () => {
  it('docs/hub.md lists every code of the table, at its level', () => {
    for (const [code, def] of Object.entries(HUB_LOG_CODES)) expect(documented.get(code), code).toBe(def.level);
  });

  it('the table holds every code docs/hub.md lists under Logs', () => {
    expect(documented.size).toBeGreaterThan(0);
    for (const code of documented.keys()) expect(HUB_LOG_CODES, code).toHaveProperty(code);
  });

  it('every code a hub source logs is a log code or a reason code', () => {
    const used = [
      ...[...hubText.matchAll(/\.event\(\s*'([A-Z0-9_]+)'/g)].map((m) => m[1]!),
      ...[...hubText.matchAll(/\.reason\(\s*'[a-z]+',\s*'([A-Z0-9_]+)'/g)].map((m) => m[1]!),
      ...[...hubText.matchAll(/exitOnFatal\([^,]+,\s*'([A-Z0-9_]+)'/g)].map((m) => m[1]!),
    ];
    expect(used.length).toBeGreaterThan(10);
    for (const code of used) expect(allowed.has(code), code).toBe(true);
  });

  it('every code of the table is logged by some hub source', () => {
    for (const code of Object.keys(HUB_LOG_CODES)) expect(hubText, code).toContain(`'${code}'`);
  });
});

describe('a running hub at trace', () => {
  const tmp = tempDir();
  const logs = captureLogs('trace');
  let hub: HubHandle;
  beforeAll(async () => {
    hub = await testHub(tmp.dir, { logger: logs.logger });
  });
  afterAll(() => tmp.cleanup());

  it('writes JSON lines, each with a known code, for start, refusals and stop', async () => {
    const device = toHex(generateKeyPair().publicKey);
    await hub.core.enrol([{ publicKey: device, unit: 'Wh', pricePerUnit: 1n, capacity: 1_000n }]);
    // A refusal at the broker (a made-up credential) and one in the pipeline (bytes that do not decode).
    const client = mqtt.connect(hub.mqttUrl, {
      clientId: `tally-${device}`,
      username: device,
      password: 'v1.not-a-credential',
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    await new Promise<void>((resolve) => {
      client.once('error', () => resolve());
      client.once('close', () => resolve());
    });
    client.end(true);
    hub.core.pipeline.onMessage(topics.segment(device), new Uint8Array([1, 2, 3]));
    await hub.close();

    const codes = logs.lines.map((l) => l.code);
    for (const line of logs.lines) {
      expect(allowed.has(line.code), line.code).toBe(true);
      expect(line).toMatchObject({ name: 'test', level: expect.any(String), time: expect.any(String) });
      expect(typeof line.msg, line.code).toBe('string');
    }
    expect(codes).toEqual(expect.arrayContaining(['HUB_STARTED', 'HUB_LISTENING', 'HUB_CREDENTIAL_INVALID']));
    expect(codes.at(-1)).toBe('HUB_STOPPED');
    const decode = logs.lines.find((l) => l.code.startsWith('DECODE_'));
    expect(decode).toMatchObject({ level: 'debug', stage: 'decode', device, vouchers: 1 });
  });
});
