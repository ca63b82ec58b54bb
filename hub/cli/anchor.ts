// `tally-hub anchor ...`: the operator's side of anchoring that needs no running hub. keygen makes
// the anchoring account's key file, deploy puts TallyAnchor on a chain, confirm checks an epoch of a
// settlement bundle against a chain with an anchor proof. viem is loaded only when one of them runs.
// Usage errors throw ConfigError (exit 2, printed by the CLI's fail()); a refused anchor exits 1.

import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { fromHex } from '../../protocol/index.js';
import { printBlock, printJson } from './format.js';
import { ConfigError, parseDuration } from '../base/config.js';
import { ANCHOR_VERDICTS, isAnchorError } from '../anchor/codes.js';
import { loadAnchorClient } from '../anchor/index.js';
import { readAnchorKey, writeAnchorKey } from '../anchor/key-file.js';
import { proofToJson, type Hex } from '../anchor/proof.js';

type Opts = Record<string, unknown>;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function rpcUrl(opts: Opts): string {
  const url = String(opts.anchorRpc ?? '');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw new ConfigError([`--anchor-rpc must be an http(s) URL of an EVM JSON-RPC endpoint: ${url}`]);
  return url;
}

function address(opts: Opts, name: string): Hex | undefined {
  const value = opts[name];
  if (value === undefined) return undefined;
  if (!ADDRESS.test(String(value))) throw new ConfigError([`--${name} must be 0x and 40 hex digits`]);
  return String(value).toLowerCase() as Hex;
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new ConfigError([`cannot read ${what} ${file}: ${(err as Error).message}`]);
  }
}

/** A key file problem is the operator's input to fix: a usage error (exit 2), like a bad flag. */
function keyFile<T>(action: () => T): T {
  try {
    return action();
  } catch (err) {
    if (isAnchorError(err)) throw new ConfigError([`${err.code}: ${err.message}`]);
    throw err;
  }
}

const rpcOption = () =>
  new Option('--anchor-rpc <url>', 'JSON-RPC endpoint of the EVM chain (http or https)').makeOptionMandatory();
const jsonOption = () => new Option('--json', 'print JSON');
const print = (value: Record<string, unknown>, opts: Opts) => (opts.json ? printJson(value) : printBlock(value));

export function anchorCommand(exit: (code: number) => never): Command {
  const anchor = new Command('anchor').description(
    'anchor settlement epoch roots on an EVM chain: make the key, deploy the contract, confirm an anchor',
  );

  anchor
    .command('keygen')
    .description("create the anchoring account's key file (mode 0600) and print its address; fund it before deploy")
    .requiredOption('--out <file>', 'key file to create (never overwritten)')
    .addOption(jsonOption())
    .action(async (opts: Opts) => {
      const { generateAnchorKey, anchorAddress } = await loadAnchorClient();
      const key = generateAnchorKey();
      keyFile(() => writeAnchorKey(String(opts.out), key));
      print({ address: anchorAddress(key).toLowerCase(), keyFile: String(opts.out) }, opts);
    });

  anchor
    .command('deploy')
    .description('deploy the TallyAnchor contract; prints its address and block (keep both for the hub and verifiers)')
    .addOption(rpcOption())
    .requiredOption('--anchor-key <file>', 'key file of the paying account (0600, 64 hex digits)')
    .option('--timeout <duration>', 'give up if not mined by then', '5m')
    .addOption(jsonOption())
    .action(async (opts: Opts) => {
      const url = rpcUrl(opts);
      const key = keyFile(() => readAnchorKey(String(opts.anchorKey)));
      const timeout = parseDuration(String(opts.timeout));
      const { deployAnchorContract } = await loadAnchorClient();
      const d = await deployAnchorContract(url, key, { signal: AbortSignal.timeout(timeout) });
      print(
        {
          contract: d.contract,
          chainId: d.chainId.toString(),
          deployer: d.deployer,
          txHash: d.txHash,
          blockNumber: d.blockNumber.toString(),
          gasUsed: d.gasUsed.toString(),
        },
        opts,
      );
    });

  anchor
    .command('confirm <bundle>')
    .description(
      'check that the epoch root of a settlement bundle is anchored where an anchor proof says: exit 0 confirmed, 1 refused (reason printed), 2 unusable input',
    )
    .addOption(rpcOption())
    .requiredOption('--proof <file>', 'anchor proof JSON {chainId, contract, anchorer, txHash, blockNumber, blockHash}')
    .option('--contract <address>', 'also require this contract (as the hub published it)')
    .option('--anchorer <address>', 'also require this anchoring account (as the hub published it)')
    .option('--confirmations <n>', 'blocks required from the anchoring block to the head, both counted', '1')
    .addOption(jsonOption())
    .action(async (bundleFile: string, opts: Opts) => {
      const url = rpcUrl(opts);
      const bundle = readJson(bundleFile, 'bundle') as { epoch?: { record?: unknown } };
      const recordHex = bundle?.epoch?.record;
      const record = typeof recordHex === 'string' ? fromHex(recordHex) : undefined;
      if (!record) throw new ConfigError([`${bundleFile} has no epoch.record in hex: not a settlement bundle`]);
      const proof = readJson(String(opts.proof), 'anchor proof');
      if (!/^\d{1,6}$/.test(String(opts.confirmations)) || Number(opts.confirmations) < 1)
        throw new ConfigError(['--confirmations must be an integer >= 1']);
      const contract = address(opts, 'contract');
      const anchorer = address(opts, 'anchorer');
      const { confirmEpochRecord } = await loadAnchorClient();
      const verdict = await confirmEpochRecord(url, record, proof, {
        minConfirmations: BigInt(String(opts.confirmations)),
        expect: { ...(contract ? { contract } : {}), ...(anchorer ? { anchorer } : {}) },
      });
      if (verdict.ok) {
        print(
          { confirmed: true, confirmations: verdict.confirmations.toString(), ...proofToJson(verdict.proof) },
          opts,
        );
        return;
      }
      if (opts.json) printJson({ confirmed: false, code: verdict.code, detail: verdict.detail });
      else
        printBlock({
          confirmed: false,
          code: verdict.code,
          reason: ANCHOR_VERDICTS[verdict.code],
          detail: verdict.detail,
        });
      exit(verdict.code === 'ANCHOR_PROOF_INVALID' ? 2 : 1);
    });

  return anchor;
}
