// tally-verify: checks a settlement bundle offline, for anyone handed one (a customer, an auditor).
// Built into one file (dist/tally-verify.js) with no native code and no dependency to install: it
// runs on a bare Node. Only this module touches process.*.

import { Command } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { EXIT_UNREADABLE, verifyFile } from './verify-file.js';

const program = new Command('tally-verify')
  .description(
    'Check a Tally settlement bundle offline: signatures, Merkle proofs and totals, with nothing but the file.',
  )
  .version(pkg.version)
  .argument('<bundle>', 'bundle file (JSON, from `tally-hub export` or the hub API); - reads standard input')
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
  curl -s https://hub.example/api/settlements/7/bundle?channel=ID | tally-verify --json -

Exit status: 0 the bundle is valid; 1 it is not (every problem is listed with its reason
code); 2 the file cannot be read or is not JSON, or the command was not used as written.`,
  )
  .action((file: string, opts: { hubKey?: string; json?: boolean }) => {
    const out = verifyFile(file, opts, 'tally-verify');
    process.stdout.write(out.stdout);
    process.stderr.write(out.stderr);
    process.exitCode = out.code;
  });

program.parse(process.argv);
