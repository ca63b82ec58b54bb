// Prints the one plain closing line CI reads, `N passed, N failed`, from vitest's JSON reports:
// `node .ci/summary.mjs reports/vitest.json [LABEL=FILE ...]`. With several reports (the suite on
// each Node), one labelled line per run first, then the total as the last line.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const args = process.argv.slice(2);
if (args.length === 0) args.push('reports/vitest.json');

// The names of what failed, so the end of a CI log says which tests to look at.
function failures(report) {
  const names = [];
  for (const file of report.testResults ?? []) {
    const where = relative(process.cwd(), file.name);
    const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of failedTests) names.push(`${where}: ${t.fullName ?? t.title}`);
    if (file.status === 'failed' && failedTests.length === 0) {
      names.push(`${where}: ${(file.message ?? 'the file failed').split('\n')[0]}`);
    }
  }
  return names;
}

// Errors no test caught (an 'error' event without a listener, say): vitest fails the run for them
// even when every test passed, and writes them beside its report (test/reporters/unhandled-errors.ts).
function unhandled(reportFile) {
  try {
    return JSON.parse(readFileSync(join(dirname(reportFile), 'unhandled-errors.json'), 'utf8'));
  } catch {
    return [];
  }
}

function count(file, label) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    const tag = label ? ` (${label})` : '';
    for (const name of failures(report)) console.log(`FAILED${tag} ${name}`);
    const errors = unhandled(file);
    for (const e of errors) {
      const where = e.file ? `${relative(process.cwd(), e.file)}: ` : '';
      console.log(`UNHANDLED${tag} ${where}${e.code ? `${e.code} ` : ''}${e.message.split('\n')[0]}`);
    }
    return {
      passed: report.numPassedTests ?? 0,
      failed: (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0) + errors.length,
      skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    };
  } catch (err) {
    console.error(`cannot read the test report ${file}: ${err.message}`);
    return { passed: 0, failed: 1, skipped: 0 };
  }
}

const line = (c) =>
  c.skipped > 0
    ? `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`
    : `${c.passed} passed, ${c.failed} failed`;

const total = { passed: 0, failed: 0, skipped: 0 };
let allRan = true;
for (const arg of args) {
  const [label, file] = arg.includes('=') ? arg.split('=', 2) : [undefined, arg];
  const c = count(file, label);
  if (args.length > 1) console.log(`${label ?? file}: ${line(c)}`);
  if (c.passed === 0) allRan = false;
  for (const k of Object.keys(total)) total[k] += c[k];
}
console.log(line(total));
process.exit(total.failed === 0 && allRan ? 0 : 1);
