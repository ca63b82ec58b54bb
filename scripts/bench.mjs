// `npm run bench [name...]`: runs the benchmarks in bench/ one after another and lets each print
// its own table. With no name, runs them all. Each benchmark is a self-contained script.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';

const available = readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && statSync(`bench/${f}`).isFile())
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : available) {
  console.log(`\n== bench/${name}.ts ==`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`], { stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
