// Every Wycheproof and CCTV Ed25519 vector wrapped in a real segment and sent through the hub, and
// every small-order or non-canonical key offered at enrolment. A vector's signature is over its
// own message, never over a Tally chain head, so the only right answer for a wrapped vector is a
// refusal that moves nothing; keys the policy refuses [P-2.4] must not even be enrolled.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeSegment,
  genesisHead,
  hexToBytes,
  SEGMENT_HEADER_SIZE,
  SMALL_ORDER_ENCODINGS,
  toHex,
  topics,
  validatePublicKey,
} from '../../protocol/index.js';
import { ApiError } from '../../hub/base/api-errors.js';
import { bareCore, type BareCore } from '../hub/helpers/bare-core.js';
import { tempDir } from '../hub/helpers/hub.js';
import { commitTurn, rejectionCounts } from '../hub/helpers/bare-device.js';
import { recorder } from './helpers/record.js';

const vectorsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../vectors/external');
const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(vectorsDir, file), 'utf8')) as T;
interface Wycheproof {
  testGroups: { publicKey: { pk: string }; tests: { tcId: number; sig: string }[] }[];
}
interface Cctv {
  number: number;
  key: string;
  sig: string;
}

const rec = recorder('hostile-keys-and-vectors');

describe('signature vectors and hostile keys', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: BareCore;

  beforeAll(async () => {
    tmp = tempDir();
    hub = await bareCore(tmp.dir, { sqliteSynchronous: 'NORMAL' });
  });
  afterAll(async () => {
    await hub.close();
    tmp.cleanup();
  });

  /** Enrols a key: the refusal code when the hub refuses it, undefined when enrolled. */
  async function enrol(keyHex: string): Promise<string | undefined> {
    try {
      await hub.core.enrol([{ publicKey: keyHex, unit: 'Wh', pricePerUnit: 1n, capacity: 1_000_000n }]);
      return undefined;
    } catch (err) {
      if (err instanceof ApiError) return `${err.code}: ${err.message}`;
      throw err;
    }
  }

  it('refuses every small-order and non-canonical device key at enrolment', async () => {
    const p = 2n ** 255n - 19n;
    const le = (n: bigint) => toHex(Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn)));
    // y >= p: the encodings of y = 0..18 plus p, i.e. non-canonical forms of valid small y.
    const nonCanonical = Array.from({ length: 19 }, (_, i) => le(p + BigInt(i)));
    const keys = [...SMALL_ORDER_ENCODINGS, ...nonCanonical];
    const refusals = [];
    for (const k of keys) refusals.push(await enrol(k));
    for (const [i, r] of refusals.entries())
      expect(r, keys[i]).toMatch(/^API_INVALID: .*KEY_(SMALL_ORDER|NON_CANONICAL|NOT_ON_CURVE)/);
    expect(hub.core.fleet.devices.size).toBe(0);
    rec.record({
      case: 'low-order and non-canonical device keys at enrolment',
      expected:
        'every one refused (API_INVALID with KEY_SMALL_ORDER / KEY_NON_CANONICAL / KEY_NOT_ON_CURVE); none enrolled',
      observed: `${refusals.length} keys refused, 0 enrolled`,
      figures: { inputs: keys.length, rejected: refusals.length },
    });
  });

  it('refuses every Wycheproof and CCTV vector wrapped in a segment, and moves no balance', async () => {
    const pairs: { key: string; sig: string }[] = [];
    for (const g of read<Wycheproof>('wycheproof-ed25519_test.json').testGroups)
      for (const t of g.tests) pairs.push({ key: g.publicKey.pk, sig: t.sig });
    for (const v of read<Cctv[]>('cctv-ed25519vectors.json')) pairs.push({ key: v.key, sig: v.sig });

    /** Channel id per enrolled key; null for a key refused at enrolment. */
    const devices = new Map<string, Uint8Array | null>();
    let enrolledKeys = 0;
    let refusedKeys = 0;
    for (const { key } of pairs) {
      if (devices.has(key)) continue;
      const policy = validatePublicKey(hexToBytes(key));
      const refusal = await enrol(key);
      // The hub's enrolment agrees with the protocol's key policy, key by key.
      expect(refusal === undefined, key).toBe(policy.ok);
      if (refusal === undefined) {
        enrolledKeys++;
        devices.set(key, hub.core.fleet.currentChannel(key)!.id);
      } else {
        refusedKeys++;
        devices.set(key, null);
      }
    }
    let sent = 0;
    for (const { key, sig } of pairs) {
      const channelId = devices.get(key);
      if (!channelId) continue;
      // One voucher from genesis, with the vector's signature bytes (any length) as the signature.
      const seg = encodeSegment({
        channelId,
        firstSeq: 1n,
        prevHash: genesisHead(channelId).hash,
        vouchers: [{ cumUnits: 1n, cumAmount: 1n, deviceTimeMs: 1n }],
        signature: new Uint8Array(64),
      });
      const bytes = new Uint8Array([...seg.subarray(0, SEGMENT_HEADER_SIZE + 24), ...hexToBytes(sig)]);
      hub.core.pipeline.onMessage(topics.segment(key), bytes);
      sent++;
    }
    await commitTurn();
    const counts = await rejectionCounts(hub);
    const refused = Object.values(counts).reduce((a, b) => a + b, 0n);
    expect(counts.HUB_INTERNAL).toBeUndefined();
    expect(refused).toBe(BigInt(sent));
    expect(Object.keys(counts).every((k) => k === 'SIG_INVALID' || k.startsWith('DECODE_'))).toBe(true);
    expect((await hub.core.stats()).acceptedUnits).toBe('0');
    rec.record({
      case: 'every Wycheproof and CCTV signature vector wrapped in a real segment',
      expected:
        'keys enrolled exactly when the key policy accepts them; every wrapped vector refused (SIG_INVALID or DECODE_*); 0 units accepted',
      observed: `${pairs.length} vectors over ${devices.size} keys (${enrolledKeys} enrolled, ${refusedKeys} refused at enrolment); ${sent} segments sent, ${refused} refused (${Object.entries(
        counts,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}); accepted units ${(await hub.core.stats()).acceptedUnits}`,
      figures: { inputs: pairs.length, rejected: Number(refused) + refusedKeys },
    });
  });
});
