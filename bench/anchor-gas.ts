// Gas of anchoring epoch roots: `npx tsx bench/anchor-gas.ts` (or `npm run bench anchor-gas`).
// Deploys TallyAnchor on an in-process EVM node (EDR, latest hardfork) and anchors one epoch at a time
// and in batches through the real publisher, printing the gas of each transaction from its receipt.
// Gas is deterministic (it does not depend on the machine). Then the cost per epoch and per million
// vouchers for the assumptions printed with it: docs/settlement.md "Anchoring" quotes this output.
//   --eth-usd N        ETH price assumed (default 3000)
//   --rate N           fleet vouchers per second assumed (default 1000)

import { privateKeyToAddress } from 'viem/accounts';
import { AnchorPublisher, deployAnchorContract } from '../hub/anchor/client.js';
import { EvmNode, TEST_KEYS } from '../support/evm-node.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ETH_USD = arg('eth-usd', 3000);
const RATE = arg('rate', 1000);
const GWEI = [0.1, 1, 5, 20]; // L1 gas prices assumed (base + tip)
const BATCHES = [1, 10, 60, 1440];

const node = await EvmNode.start(TEST_KEYS.map((k) => privateKeyToAddress(k)));
const fmt = (n: number | bigint) => Number(n).toLocaleString('en-US');
const pad = (s: string, n: number) => s.padEnd(n);
const padl = (s: string, n: number) => s.padStart(n);

try {
  const deployment = await deployAnchorContract(node.url, TEST_KEYS[0], { pollMs: 5 });
  const publisher = new AnchorPublisher(
    { rpcUrl: node.url, contract: deployment.contract, privateKey: TEST_KEYS[0], fromBlock: deployment.blockNumber },
    { pollMs: 5 },
  );
  const hubKey = new Uint8Array(32).fill(0x5a);
  let next = 1n;
  const root = (epoch: bigint) => {
    const r = new Uint8Array(32);
    new DataView(r.buffer).setBigUint64(0, epoch ^ 0x9e3779b97f4a7c15n);
    r.fill(0xa5, 8);
    return r;
  };
  const anchor = async (count: number) => {
    const targets = Array.from({ length: count }, (_, i) => ({
      hubKey,
      epoch: next + BigInt(i),
      root: root(next + BigInt(i)),
    }));
    next += BigInt(count);
    const [first] = await publisher.publish(targets);
    const receipt = await node.rpc<{ gasUsed: string }>('eth_getTransactionReceipt', [first!.proof.txHash]);
    const tx = await node.rpc<{ input: string }>('eth_getTransactionByHash', [first!.proof.txHash]);
    return { gas: Number(BigInt(receipt.gasUsed)), calldata: (tx.input.length - 2) / 2 };
  };

  const rows: { what: string; epochs: number; gas: number; calldata: number }[] = [];
  rows.push({ what: 'deploy TallyAnchor', epochs: 0, gas: Number(deployment.gasUsed), calldata: 0 });
  const first = await anchor(1);
  rows.push({ what: "first anchor of an account's hub key", epochs: 1, ...first });
  for (const n of BATCHES)
    rows.push({ what: n === 1 ? 'anchor 1 epoch' : `anchor a batch of ${n}`, epochs: n, ...(await anchor(n)) });

  console.log('TallyAnchor gas (EDR, latest hardfork; gas is deterministic, not a timing)\n');
  console.log(
    `${pad('transaction', 38)}${padl('epochs', 7)}${padl('gas', 11)}${padl('gas/epoch', 11)}${padl('calldata B', 12)}`,
  );
  for (const r of rows) {
    const per = r.epochs > 0 ? fmt(Math.round(r.gas / r.epochs)) : '';
    console.log(
      `${pad(r.what, 38)}${padl(r.epochs ? String(r.epochs) : '', 7)}${padl(fmt(r.gas), 11)}${padl(per, 11)}${padl(r.calldata ? fmt(r.calldata) : '', 12)}`,
    );
  }

  // cost per epoch = gas/epoch x gas price x 1e-9 ETH/gwei x ETH price
  // cost per million vouchers = cost per epoch x 1e6 / (vouchers/s x epoch seconds)
  console.log(`\nCost assumed: ETH = $${fmt(ETH_USD)}; fleet of ${fmt(RATE)} vouchers/s.`);
  console.log(
    'Cost per epoch = gas/epoch x gwei x 1e-9 x ETH price; per million vouchers = that x 1e6 / vouchers per epoch.',
  );
  const steady = rows.find((r) => r.what === 'anchor 1 epoch')!;
  const batch60 = rows.find((r) => r.epochs === 60)!;
  const plans = [
    { plan: '1-minute epochs, 1 tx each', seconds: 60, gasPerEpoch: steady.gas },
    { plan: '1-minute epochs, batched hourly (60)', seconds: 60, gasPerEpoch: batch60.gas / 60 },
    { plan: '1-hour epochs, 1 tx each', seconds: 3600, gasPerEpoch: steady.gas },
  ];
  console.log(
    `\n${pad('plan', 38)}${padl('vouchers/epoch', 15)}${GWEI.map((g) => padl(`$/M @${g} gwei`, 16)).join('')}${padl('$/day @1 gwei', 15)}`,
  );
  for (const p of plans) {
    const vouchers = RATE * p.seconds;
    const perMillion = GWEI.map((g) => (p.gasPerEpoch * g * 1e-9 * ETH_USD * 1e6) / vouchers);
    const perDay = (p.gasPerEpoch * 1 * 1e-9 * ETH_USD * 86_400) / p.seconds;
    console.log(
      `${pad(p.plan, 38)}${padl(fmt(vouchers), 15)}${perMillion.map((c) => padl(`$${c.toPrecision(3)}`, 16)).join('')}${padl(`$${perDay.toPrecision(3)}`, 15)}`,
    );
  }
} finally {
  await node.close();
}
