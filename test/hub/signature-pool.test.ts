// The worker pool's verdicts: the same answers as node:crypto on the caller's thread, in order,
// across workers and batches, whatever buffer the bytes are views into.
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_FAILED_STARTS,
  SignaturePool,
  WORKER_SOURCE,
  type SignatureCheck,
  type WorkerExit,
} from '../../hub/ingest/signature-pool.js';
import { generateKeyPair, nodeBackend } from '../../protocol/index.js';

let pool: SignaturePool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

function signed(message: Uint8Array): SignatureCheck {
  const kp = generateKeyPair();
  return { signature: nodeBackend.sign(message, kp.secretKey), message, publicKey: kp.publicKey };
}

/** The same bytes as a view into the middle of a larger buffer, as a received packet gives them. */
function inLargerBuffer(bytes: Uint8Array): Uint8Array {
  const big = new Uint8Array(65_536).fill(0xa5);
  big.set(bytes, 1_000);
  return big.subarray(1_000, 1_000 + bytes.length);
}

describe('signature pool', () => {
  it('answers true for good signatures and false for bad ones, in order, across workers and batches', async () => {
    pool = new SignaturePool(2);
    const checks: SignatureCheck[] = [];
    const expected: boolean[] = [];
    for (let i = 0; i < 300; i++) {
      const c = signed(new Uint8Array(10 + (i % 90)).fill(i & 0xff));
      const kind = i % 5;
      if (kind === 0) checks.push({ ...c, message: Uint8Array.from(c.message, (b, j) => (j === 0 ? b ^ 1 : b)) });
      else if (kind === 1) checks.push({ ...c, publicKey: generateKeyPair().publicKey });
      else if (kind === 2) {
        checks.push({
          signature: inLargerBuffer(c.signature),
          message: inLargerBuffer(c.message),
          publicKey: inLargerBuffer(c.publicKey),
        });
      } else checks.push(c);
      expected.push(kind >= 2);
    }
    const verdicts = await Promise.all(checks.map((c) => pool!.verify(c)));
    expect(verdicts).toEqual(expected);
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      expect(verdicts[i]).toBe(nodeBackend.verify(c.signature, c.message, c.publicKey));
    }
  });

  it('answers a lone check on the calling thread while the workers are idle, with the same verdicts', async () => {
    pool = new SignaturePool(2);
    const good = signed(new Uint8Array([4, 5, 6]));
    const forged = { ...good, message: new Uint8Array([4, 5, 7]) };
    expect(await pool.verify(good)).toBe(true);
    expect(await pool.verify(forged)).toBe(false);
    expect(pool.checkedInline).toBe(2);
    // A burst goes to the workers: at most the first small batch is answered here.
    const burst = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? forged : good));
    const verdicts = await Promise.all(burst.map((c) => pool!.verify(c)));
    expect(verdicts).toEqual(burst.map((c) => c === good));
    expect(pool.checkedInline).toBe(2);
  });

  it('answers false for a check whose signature or key has the wrong length, and goes on', async () => {
    pool = new SignaturePool(1);
    const good = signed(new Uint8Array([1, 2, 3]));
    const verdicts = await Promise.all([
      pool.verify({ ...good, signature: good.signature.subarray(0, 63) }),
      pool.verify({ ...good, publicKey: good.publicKey.subarray(0, 31) }),
      pool.verify(good),
    ]);
    expect(verdicts).toEqual([false, false, true]);
  });

  it('answers undefined, not false, once closed: the hub cannot check, the device is not at fault', async () => {
    pool = new SignaturePool(1);
    await pool.close();
    expect(await pool.verify(signed(new Uint8Array([9])))).toBeUndefined();
    pool = undefined;
  });

  it('answers undefined for the checks a worker held when it ends, and a new worker takes its place', async () => {
    // A worker that ends (exit code 7) when a batch holds a check whose message starts with 0xee.
    const poisoned = `require('node:worker_threads').parentPort.on('message', ({ checks }) => {
      if (checks.some((c) => c.message[0] === 0xee)) process.exit(7);
    });\n${WORKER_SOURCE}`;
    const exits: WorkerExit[] = [];
    pool = new SignaturePool(1, { workerSource: poisoned, onWorkerExit: (e) => exits.push(e) });
    const good = signed(new Uint8Array([1, 2, 3]));
    const poison = signed(new Uint8Array([0xee]));
    const batch = Array.from({ length: 20 }, (_, i) => (i === 7 ? poison : good));
    // Without the replacement these would never settle, and the test would time out.
    expect(await Promise.all(batch.map((c) => pool!.verify(c)))).toEqual(batch.map(() => undefined));
    expect(exits).toEqual([{ worker: 0, code: 7, lost: 20, replaced: true }]);
    expect(pool.liveWorkers).toBe(1);
    // The next batch goes to the new worker, not to the calling thread.
    const forged = { ...good, message: new Uint8Array([1, 2, 4]) };
    const next = Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? forged : good));
    expect(await Promise.all(next.map((c) => pool!.verify(c)))).toEqual(next.map((c) => c === good));
    expect(pool.checkedInline).toBe(0);
    expect(pool.workerExits).toBe(1);
  });

  it('checks on the calling thread once no worker can be kept running, with the same verdicts', async () => {
    // What a preload that throws on worker threads does to every worker the hub starts.
    const exits: WorkerExit[] = [];
    pool = new SignaturePool(2, {
      workerSource: "throw new Error('no worker threads here')",
      onWorkerExit: (e) => exits.push(e),
    });
    const starts = 2 * (1 + MAX_FAILED_STARTS);
    for (let waited = 0; exits.length < starts && waited < 30_000; waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(exits).toHaveLength(starts);
    expect(exits.every((e) => e.error === 'no worker threads here' && e.lost === 0)).toBe(true);
    expect(exits.filter((e) => !e.replaced)).toHaveLength(2);
    expect(pool.liveWorkers).toBe(0);
    const good = signed(new Uint8Array([5]));
    const forged = { ...good, message: new Uint8Array([6]) };
    const checks = Array.from({ length: 50 }, (_, i) => (i % 5 === 0 ? forged : good));
    expect(await Promise.all(checks.map((c) => pool!.verify(c)))).toEqual(checks.map((c) => c === good));
    expect(pool.checkedInline).toBe(50);
  });
});
