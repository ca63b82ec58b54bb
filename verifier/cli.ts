// tally-verify: checks a settlement bundle offline, for anyone handed one (a customer, an auditor).
// Built into one file (dist/tally-verify.js) with no native code and no dependency to install: it
// runs on a bare Node. Only this module touches process.*.

import { Command } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { EXIT_UNREADABLE, verifyFiles } from './verify-file.js';

const program = new Command('tally-verify')
  .description(
    'Check Tally settlement bundles offline: signatures, Merkle proofs and totals, with nothing but the files.',
  )
  .version(pkg.version)
  .argument(
    '<bundle...>',
    'bundle file(s) (JSON, from `tally-hub export` or the hub API); - reads standard input; several files are checked together as consecutive epochs',
  )
  .option('--hub-key <hex>', 'also require that this hub key (64 hex characters) signed the epoch')
  .option('--json', 'print the verdict as JSON (money as decimal strings)')
  .showHelpAfterError()
  // Usage errors exit 2, like an unreadable bundle (commander's default is 1, "invalid").
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_UNREADABLE))
  .addHelpText(
    'after',
    `
Examples:
  tally-verify epoch-7.json
  tally-verify epoch-7.json --hub-key 3d40...   # the key your operator published
  tally-verify epoch-5.json epoch-6.json epoch-7.json   # together: no unit billed twice
  curl -s https://hub.example/api/settlements/7/bundle?channel=ID | tally-verify --json -

One file: every check of the protocol's clause 8.5, each problem printed with its reason code and
the check that failed (e.g. "SIG_INVALID (8.5.31)"). A version-1 bundle verifies with a warning:
its deltas rest on the hub's word, not the device's signatures. Several files (a customer's
bundles of consecutive epochs): each on its own, then together (clause 8.6).

Exit status: 0 valid; 1 not (every problem is listed with its reason code); 2 a file cannot be
read or is not JSON, or the command was not used as written.`,
  )
  .action((files: string[], opts: { hubKey?: string; json?: boolean }) => {
    const out = verifyFiles(files, opts, 'tally-verify');
    process.stdout.write(out.stdout);
    process.stderr.write(out.stderr);
    process.exitCode = out.code;
  });

program.parse(process.argv);
