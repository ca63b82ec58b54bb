// The webhook parts that are pure logic, without sockets: Standard Webhooks signing (checked
// against the standardwebhooks package and a fixed vector), backoff with jitter and the dead-letter
// rule, the low-capacity crossing, thresholds, the offline queue, and stable event ids.
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { WEBHOOK_EVENT_TYPES, parseThreshold } from '../../hub/base/webhook-config.js';
import { crossesLow, thresholdAmount } from '../../hub/model/low-capacity.js';
import { OfflineWatch } from '../../hub/model/offline-watch.js';
import { EVENT_TYPES, channelEvents, epochSettled, eventId } from '../../hub/model/webhook-events.js';
import { afterFailure, retryDelayMs } from '../../hub/webhooks/backoff.js';
import { newSecret, secretKey, signature, signedHeaders, verifySignature } from '../../hub/webhooks/sign.js';

describe('signing (Standard Webhooks)', () => {
  // A fixed vector: key bytes 0x01 x 32, computed independently by the standardwebhooks package below.
  const secret = 'whsec_' + Buffer.alloc(32, 1).toString('base64');
  const body = '{"id":"evt_1","type":"epoch.settled"}';

  it('signs id.timestamp.body with HMAC-SHA256 as the standardwebhooks package checks it', () => {
    const ts = 1_795_874_531;
    const headers = signedHeaders(secretKey(secret)!, 'evt_1', ts, body);
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign('evt_1', new Date(ts * 1000), body));
    const now = Date.now();
    const fresh = signedHeaders(secretKey(secret)!, 'evt_1', Math.floor(now / 1000), body);
    expect(new Webhook(secret).verify(body, fresh)).toEqual(JSON.parse(body));
  });

  it('verifies its own signatures and refuses a changed body, id, key or an old timestamp', () => {
    const key = secretKey(secret)!;
    const h = { id: 'evt_1', timestamp: '1000', signature: signature(key, 'evt_1', 1000, body) };
    expect(verifySignature(secret, h, body, 1000)).toBe(true);
    expect(verifySignature(secret, { ...h, signature: `v1,xyz ${h.signature}` }, body, 1000)).toBe(true);
    expect(verifySignature(secret, h, body.replace('1', '2'), 1000)).toBe(false);
    expect(verifySignature(secret, { ...h, id: 'evt_2' }, body, 1000)).toBe(false);
    expect(verifySignature(newSecret(), h, body, 1000)).toBe(false);
    expect(verifySignature(secret, h, body, 1000 + 301)).toBe(false);
    expect(verifySignature(secret, { ...h, timestamp: '1e3' }, body, 1000)).toBe(false);
  });

  it('takes only whsec_ secrets of 24..64 bytes', () => {
    expect(secretKey(newSecret())).toHaveLength(32);
    for (const bad of [
      '',
      'hunter2',
      'whsec_',
      'whsec_abc',
      'whsec_' + Buffer.alloc(16).toString('base64'),
      'whsec_' + Buffer.alloc(65).toString('base64'),
      'whsec_!!!!',
    ])
      expect(secretKey(bad), bad).toBeUndefined();
  });
});

describe('retries', () => {
  const p = { retryBaseMs: 1_000, retryMaxMs: 60_000, maxAttempts: 5, maxAgeMs: 600_000 };

  it('waits a random time up to base * 2^(n-1), capped (full jitter)', () => {
    expect(retryDelayMs(p, 1, () => 0.999999)).toBe(999);
    expect(retryDelayMs(p, 3, () => 0.5)).toBe(2_000);
    expect(retryDelayMs(p, 40, () => 0.999999)).toBe(59_999);
    expect(retryDelayMs(p, 3, () => 0)).toBe(0);
  });

  it('gives up after maxAttempts or once the next attempt would pass maxAge', () => {
    expect(afterFailure(p, 4, 0, 1_000, () => 0.5)).toEqual({ state: 'retry', atMs: 1_000 + 4_000 });
    expect(afterFailure(p, 5, 0, 1_000, () => 0.5)).toEqual({ state: 'dead' });
    expect(afterFailure(p, 1, 0, 599_900, () => 0.5)).toEqual({ state: 'dead' });
  });
});

describe('low capacity', () => {
  it('fires once per crossing: from above the threshold to at or below it', () => {
    expect(crossesLow(100n, 1_000n, 800n, 900n)).toBe(true); // remaining 200 -> 100
    expect(crossesLow(100n, 1_000n, 900n, 950n)).toBe(false); // already below
    expect(crossesLow(100n, 1_000n, 0n, 850n)).toBe(false); // still above
    expect(crossesLow(100n, 1_000n, 0n, 1_000n)).toBe(true); // straight to exhausted
    expect(crossesLow(0n, 1_000n, 0n, 1_000n)).toBe(false); // off
    // After a top-up to 2000 the same head is far above the threshold again: re-armed.
    expect(crossesLow(100n, 2_000n, 950n, 1_950n)).toBe(true);
  });

  it('parses thresholds as minor units or a share of the capacity', () => {
    expect(parseThreshold('5000')).toEqual({ kind: 'amount', amount: 5000n });
    expect(parseThreshold('10%')).toEqual({ kind: 'percent', percent: 10n });
    expect(parseThreshold('off')).toEqual({ kind: 'amount', amount: 0n });
    for (const bad of ['', '101%', '-1', '1.5', '10 %', 'lots', '18446744073709551616'])
      expect(parseThreshold(bad), bad).toBeUndefined();
    expect(thresholdAmount(parseThreshold('10%')!, 999n)).toBe(99n);
    expect(thresholdAmount(parseThreshold('7')!, 999n)).toBe(7n);
  });
});

describe('offline watch', () => {
  it('reports a device disconnected for the whole window, once, and not one that came back', () => {
    const w = new OfflineWatch(1_000);
    w.disconnected('a', 0);
    w.disconnected('b', 100);
    w.connected('b');
    w.disconnected('c', 200);
    expect(w.due(999)).toEqual([]);
    expect(w.due(1_000)).toEqual([{ deviceHex: 'a', disconnectedAtMs: 0 }]);
    expect(w.due(5_000)).toEqual([{ deviceHex: 'c', disconnectedAtMs: 200 }]);
    expect(w.due(10_000)).toEqual([]);
    expect(w.size).toBe(0);
  });

  it('counts a flapping device from its last disconnect', () => {
    const w = new OfflineWatch(1_000);
    w.disconnected('a', 0);
    w.connected('a');
    w.disconnected('a', 500);
    expect(w.due(1_200)).toEqual([]);
    expect(w.due(1_500)).toEqual([{ deviceHex: 'a', disconnectedAtMs: 500 }]);
  });

  it('does work proportional to what came due, not to the devices watched', () => {
    const w = new OfflineWatch(1_000);
    for (let i = 0; i < 10_000; i++) w.disconnected(`d${i}`, i);
    expect(w.due(1_004)).toHaveLength(5);
    expect(w.size).toBe(9_995);
  });
});

describe('events', () => {
  const src = { hubKeyHex: 'ab'.repeat(32), network: 'n' };
  const ch = {
    id: new Uint8Array(32).fill(7),
    deviceKey: new Uint8Array(32).fill(9),
    unit: 'Wh',
    pricePerUnit: 3n,
    capacity: 18_446_744_073_709_551_615n,
    head: { seq: 2n, cumUnits: 4n, cumAmount: 12n },
  };

  it('has stable ids named by their cause, the same list as the metrics', () => {
    expect(EVENT_TYPES).toEqual(WEBHOOK_EVENT_TYPES);
    const a = channelEvents.exhausted(src, ch, 1n);
    const b = channelEvents.exhausted(src, { ...ch, head: { ...ch.head, seq: 3n } }, 2n);
    expect(a.id).toBe(b.id); // same channel, same capacity: one episode
    expect(a.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(channelEvents.exhausted(src, { ...ch, capacity: 5n }, 1n).id).not.toBe(a.id);
    expect(eventId({ ...src, hubKeyHex: 'cd'.repeat(32) }, 'channel.exhausted', '07'.repeat(32), ch.capacity)).not.toBe(
      a.id,
    );
  });

  it('carries amounts as decimal strings, exact above 2^53', () => {
    const e = JSON.parse(channelEvents.lowCapacity(src, ch, 10n, 1_700_000_000_000n).payload);
    expect(e).toMatchObject({
      type: 'channel.low_capacity',
      timestamp: '2023-11-14T22:13:20.000Z',
      hub: { publicKey: src.hubKeyHex, network: 'n' },
      data: { capacity: '18446744073709551615', remaining: '18446744073709551603', threshold: '10', cumAmount: '12' },
    });
    const s = JSON.parse(
      epochSettled(
        src,
        { epoch: 4n, root: new Uint8Array(32), entryCount: 1, totalDeltaAmount: 2n ** 63n, closedAtMs: 0n },
        [{ channelId: ch.id, deltaAmount: 2n ** 63n, toSeq: 9n }],
      ).payload,
    );
    expect(s.data).toMatchObject({
      epoch: '4',
      totalDeltaAmount: '9223372036854775808',
      channels: [{ deltaAmount: '9223372036854775808', toSeq: '9' }],
    });
  });
});
