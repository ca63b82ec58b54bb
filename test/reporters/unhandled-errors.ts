// A vitest reporter that writes the run's unhandled errors (an 'error' event nobody listened to, a
// rejected promise nobody awaited) to reports/unhandled-errors.json. Vitest fails such a run even
// when every test passed, but its JSON report says nothing of them, so .ci/summary.mjs reads this
// file to name them at the end of a CI log.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, SerializedError } from 'vitest/node';

export const UNHANDLED_ERRORS_FILE = 'reports/unhandled-errors.json';

interface UnhandledError {
  message: string;
  code?: string;
  /** The test file that was running when it happened (vitest's best guess). */
  file?: string;
  stack?: string;
}

function describeError(err: SerializedError): UnhandledError {
  const e = err as SerializedError & { code?: unknown; VITEST_TEST_PATH?: unknown };
  return {
    message: typeof e.message === 'string' && e.message ? e.message : String(e.name ?? 'unknown error'),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.VITEST_TEST_PATH === 'string' ? { file: e.VITEST_TEST_PATH } : {}),
    ...(typeof e.stack === 'string' ? { stack: e.stack.split('\n').slice(0, 6).join('\n') } : {}),
  };
}

export default class UnhandledErrorsReporter implements Reporter {
  onTestRunEnd(_modules: unknown, unhandledErrors: ReadonlyArray<SerializedError>): void {
    mkdirSync(dirname(UNHANDLED_ERRORS_FILE), { recursive: true });
    writeFileSync(UNHANDLED_ERRORS_FILE, JSON.stringify(unhandledErrors.map(describeError), null, 2) + '\n');
  }
}
