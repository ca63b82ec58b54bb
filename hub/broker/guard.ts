// Bounds on what an MQTT connection can make the embedded broker hold, checked before aedes sees
// a byte. aedes 1.x has no maximum packet size: mqtt-packet buffers a packet whole, however large
// its fixed header says it is, before parsing it, so a client announcing 256 MB and streaming it
// held that much memory until the connect timeout, logged in or not. (aedes 2, still a beta,
// adds `maximumPacketSize`; when it is stable this scanner can go.) Pure logic: no sockets here;
// embedded.ts applies it to each connection.

import { SIZE_CAPS } from '../../protocol/index.js';

/**
 * The largest packet a Tally client sends: a PUBLISH of the largest segment [P-6.3] with its topic
 * (`tally/v1/p/{p}/d/{dev}/up/seg`, at most 88 bytes), packet id and fixed header, plus a margin for clients
 * that add MQTT properties. Everything larger is refused at its fixed header.
 */
export const MAX_PACKET_BYTES = SIZE_CAPS.segment + 2048;

/** A device CONNECT is about 400 bytes (client id, credential, last will with a status); the
 *  hub's own client is smaller. The first packet of a connection may not be larger. */
export const MAX_CONNECT_BYTES = 2048;

/** Bytes a connection may send before it is authenticated: the CONNECT and a few packets a
 *  client pipelines behind it. */
export const MAX_BYTES_BEFORE_AUTH = 64 * 1024;

export interface FrameLimits {
  maxPacketBytes: number;
  maxConnectBytes: number;
  maxBytesBeforeAuth: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = Object.freeze({
  maxPacketBytes: MAX_PACKET_BYTES,
  maxConnectBytes: MAX_CONNECT_BYTES,
  maxBytesBeforeAuth: MAX_BYTES_BEFORE_AUTH,
});

const PACKET_NAMES = [
  'reserved',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
];

/**
 * Follows the MQTT fixed headers of one connection's byte stream (MQTT 3.1.1 section 2.2: a type
 * byte, then the remaining length in 1-4 bytes of 7 bits) and skips over each body without
 * looking at it, so the cost is per packet, not per byte. Refuses a packet as soon as its header
 * declares more than the limit.
 */
export class FrameScanner {
  /** Body bytes of the current packet still to skip. */
  private skip = 0;
  /** A fixed header split across chunks: the type byte and the length bytes so far. */
  private header: number[] = [];
  private packets = 0;
  private beforeAuth = 0;
  private authenticated = false;
  private failed = false;

  constructor(private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS) {}

  /** The connection was authenticated: the byte budget before it no longer applies. */
  authenticate(): void {
    this.authenticated = true;
  }

  /** Checks the next chunk of the stream; returns why the connection must be closed, if it must. */
  push(chunk: Uint8Array): string | undefined {
    if (this.failed) return 'already refused';
    if (!this.authenticated) {
      this.beforeAuth += chunk.length;
      if (this.beforeAuth > this.limits.maxBytesBeforeAuth)
        return this.fail(`over ${this.limits.maxBytesBeforeAuth} bytes before CONNACK`);
    }
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      this.header.push(byte);
      if (this.header.length === 1 || (byte & 0x80) !== 0) {
        // A fifth length byte would declare more than 256 MB, which MQTT does not allow.
        if (this.header.length === 5) return this.fail('remaining length longer than 4 bytes');
        continue;
      }
      let length = 0;
      for (let k = this.header.length - 1; k >= 1; k--) length = length * 128 + (this.header[k]! & 0x7f);
      const total = this.header.length + length;
      const type = PACKET_NAMES[this.header[0]! >> 4]!;
      const max = this.packets === 0 ? this.limits.maxConnectBytes : this.limits.maxPacketBytes;
      if (total > max) return this.fail(`${type} of ${total} bytes, over ${max}`);
      this.packets++;
      this.header = [];
      this.skip = length;
    }
    return undefined;
  }

  private fail(reason: string): string {
    this.failed = true;
    return reason;
  }
}

export interface AdmissionLimits {
  /** Connections accepted and not yet authenticated, hub-wide. */
  maxPending: number;
  /** The same, from one source address. */
  maxPendingPerAddress: number;
  /** New connections per second from one source address (a burst of ten seconds' worth is
   *  allowed, for a site behind one NAT reconnecting at once); 0 = no limit. */
  connectsPerSecond: number;
}

type Refusal = 'HUB_CONNECT_LIMIT' | 'HUB_CONNECT_RATE';

interface Bucket {
  tokens: number;
  atMs: number;
  pending: number;
}

/** Addresses remembered at most; beyond it, idle ones are forgotten (memory stays bounded). */
const MAX_ADDRESSES = 16_384;

/**
 * Who may open a connection: each address earns connects at a steady rate into a bucket of ten
 * seconds' worth (a token bucket), and the connections still waiting for their CONNACK are capped
 * per address and hub-wide. A connection leaves "pending" once, when it is authenticated or closes.
 */
export class ConnectAdmission {
  private readonly buckets = new Map<string, Bucket>();
  private pending = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get pendingCount(): number {
    return this.pending;
  }

  /** A new connection from `address`: admitted (and pending), or the reason to close it. */
  admit(address: string): { ok: true; settle: () => void } | { ok: false; reason: Refusal; detail: string } {
    const { maxPending, maxPendingPerAddress, connectsPerSecond } = this.limits;
    if (this.pending >= maxPending)
      return { ok: false, reason: 'HUB_CONNECT_LIMIT', detail: `${this.pending} pending` };
    const bucket = this.bucket(address);
    if (bucket.pending >= maxPendingPerAddress) {
      return { ok: false, reason: 'HUB_CONNECT_LIMIT', detail: `${bucket.pending} pending from ${address}` };
    }
    if (connectsPerSecond > 0) {
      if (bucket.tokens < 1) return { ok: false, reason: 'HUB_CONNECT_RATE', detail: address };
      bucket.tokens -= 1;
    }
    this.pending++;
    bucket.pending++;
    let settled = false;
    return {
      ok: true,
      settle: () => {
        if (settled) return;
        settled = true;
        this.pending--;
        bucket.pending--;
      },
    };
  }

  private bucket(address: string): Bucket {
    const burst = this.limits.connectsPerSecond * 10;
    const now = this.now();
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= MAX_ADDRESSES) this.forgetIdle(now, burst);
      b = { tokens: burst, atMs: now, pending: 0 };
      this.buckets.set(address, b);
      return b;
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.atMs) / 1000) * this.limits.connectsPerSecond);
    b.atMs = now;
    return b;
  }

  /** Drops addresses with nothing pending whose bucket has refilled: they are as if new. */
  private forgetIdle(now: number, burst: number): void {
    for (const [address, b] of this.buckets) {
      const tokens = b.tokens + ((now - b.atMs) / 1000) * this.limits.connectsPerSecond;
      if (b.pending === 0 && tokens >= burst) this.buckets.delete(address);
    }
    // Every address busy: forget the oldest half rather than grow (their limits restart).
    if (this.buckets.size >= MAX_ADDRESSES) {
      let n = 0;
      for (const [address, b] of this.buckets) {
        if (n++ >= MAX_ADDRESSES / 2) break;
        if (b.pending === 0) this.buckets.delete(address);
      }
    }
  }
}
