// The embedded broker's guard without sockets: the fixed-header scanner that refuses an oversized
// MQTT packet before it is buffered, and the admission of new connections (pending caps and the
// per-address connect rate).
import { describe, expect, it } from 'vitest';
import { SIZE_CAPS, topics } from '../../protocol/index.js';
import { ConnectAdmission, FrameScanner, MAX_PACKET_BYTES } from '../../hub/broker/guard.js';

const limits = { maxPacketBytes: 1000, maxConnectBytes: 100, maxBytesBeforeAuth: 4000 };

/** A packet of `type` with a body of `length` bytes: type byte, remaining length, body. */
function packet(type: number, length: number): Uint8Array {
  const header = [type << 4];
  let n = length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    header.push(b);
  } while (n > 0);
  return new Uint8Array([...header, ...new Uint8Array(length)]);
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

describe('FrameScanner', () => {
  it('passes a stream of packets within the limits, however it is cut into chunks', () => {
    const stream = concat(packet(1, 60), packet(3, 997), packet(12, 0), packet(3, 200), packet(4, 2));
    for (const cut of [1, 2, 3, 7, 64, 1000, stream.length]) {
      const s = new FrameScanner(limits);
      for (let i = 0; i < stream.length; i += cut) expect(s.push(stream.subarray(i, i + cut))).toBeUndefined();
    }
  });

  it('refuses a packet at its fixed header, before its body arrives', () => {
    const s = new FrameScanner(limits);
    expect(s.push(packet(1, 60))).toBeUndefined();
    s.authenticate();
    // 255 MiB announced: the header alone is enough to refuse.
    expect(s.push(new Uint8Array([0x32, 0xff, 0xff, 0xff, 0x7f]))).toMatch(/PUBLISH of 268435460 bytes/);
    expect(s.push(new Uint8Array(10))).toBe('already refused');
  });

  it('counts the fixed header in the size: 1000 bytes pass, 1001 do not', () => {
    const ok = new FrameScanner(limits);
    ok.push(packet(1, 10));
    expect(ok.push(packet(3, 997))).toBeUndefined(); // 1 + 2 + 997
    const over = new FrameScanner(limits);
    over.push(packet(1, 10));
    expect(over.push(packet(3, 998))).toMatch(/over 1000/);
  });

  it('holds the first packet (the CONNECT) to its own, smaller limit', () => {
    expect(new FrameScanner(limits).push(packet(1, 98))).toBeUndefined();
    expect(new FrameScanner(limits).push(packet(1, 99))).toMatch(/CONNECT of 101 bytes/);
    // A 256 MB CONNECT split one byte at a time is refused on its last length byte.
    const s = new FrameScanner(limits);
    const header = [0x10, 0xff, 0xff, 0xff, 0x7f];
    const verdicts = header.map((b) => s.push(new Uint8Array([b])));
    expect(verdicts.slice(0, 4)).toEqual([undefined, undefined, undefined, undefined]);
    expect(verdicts[4]).toMatch(/CONNECT/);
  });

  it('refuses a remaining length of more than four bytes', () => {
    const s = new FrameScanner(limits);
    expect(s.push(new Uint8Array([0x10, 0x80, 0x80, 0x80, 0x80]))).toMatch(/longer than 4 bytes/);
  });

  it('limits the bytes before authentication, not after', () => {
    const before = new FrameScanner(limits);
    expect(before.push(packet(1, 50))).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(before.push(packet(3, 990))).toBeUndefined();
    expect(before.push(packet(3, 990))).toMatch(/before CONNACK/);
    const after = new FrameScanner(limits);
    after.push(packet(1, 50));
    after.authenticate();
    for (let i = 0; i < 100; i++) expect(after.push(packet(3, 990))).toBeUndefined();
  });

  it('lets the largest Tally message through with its topic and header [P-6.3]', () => {
    const publish = 2 + topics.segment('ab'.repeat(32)).length + 2 + SIZE_CAPS.segment;
    expect(publish + 4).toBeLessThanOrEqual(MAX_PACKET_BYTES);
    const s = new FrameScanner();
    s.push(packet(1, 400));
    expect(s.push(packet(3, publish))).toBeUndefined();
  });
});

describe('ConnectAdmission', () => {
  it('caps pending connections hub-wide and per address; settling frees a place once', () => {
    const a = new ConnectAdmission({ maxPending: 3, maxPendingPerAddress: 2, connectsPerSecond: 0 });
    const x1 = a.admit('x');
    const x2 = a.admit('x');
    expect(x1.ok && x2.ok).toBe(true);
    expect(a.admit('x')).toMatchObject({ ok: false, reason: 'HUB_CONNECT_LIMIT' });
    expect(a.admit('y').ok).toBe(true);
    expect(a.admit('z')).toMatchObject({ ok: false, reason: 'HUB_CONNECT_LIMIT' });
    if (!x1.ok) return;
    x1.settle();
    x1.settle(); // authenticated, then closed: counted once
    expect(a.pendingCount).toBe(2);
    expect(a.admit('x').ok).toBe(true);
    expect(a.admit('x')).toMatchObject({ ok: false });
  });

  it('allows a burst of ten seconds of connects per address, then the rate', () => {
    let now = 0;
    const a = new ConnectAdmission({ maxPending: 1e6, maxPendingPerAddress: 1e6, connectsPerSecond: 5 }, () => now);
    const admitted = () => {
      let n = 0;
      for (let i = 0; i < 1000; i++) {
        const r = a.admit('10.0.0.1');
        if (r.ok) {
          n++;
          r.settle();
        }
      }
      return n;
    };
    expect(admitted()).toBe(50);
    now += 1000;
    expect(admitted()).toBe(5);
    now += 60_000;
    expect(admitted()).toBe(50); // refilled to the burst, not beyond
    expect(a.admit('10.0.0.2').ok).toBe(true); // another address has its own bucket
  });
});
