// Acts on what the hub sends down, once downlink.ts has judged it: a verified receipt deletes what
// it covers [P-5.2], a grant gives the device its channel [P-7.1], a resync re-sends after the
// hub's head [P-7.2], capacity and reject messages set the channel's limits [P-7.3, P-7.4]. Kept
// apart from production and the link side because these are the hub's decisions: only here does
// the agent take a channel, hold a new receipt or change its limits; then it asks production to
// sign what that freed and the link side to send it.
import {
  bytesEqual,
  decodeChannelRecord,
  decodeControl,
  genesisHead,
  toHex,
  topics,
  type Control,
  type Head,
  formatMoney,
} from '../protocol/index.js';
import { unitsAllowed } from './chain.js';
import { judgeGrant, judgeReceipt } from './downlink.js';
import type { ChannelState, StoredChannel } from './outbox/types.js';
import type { Production } from './production.js';
import type { AgentContext, Channel } from './state.js';
import type { Uplink } from './uplink.js';

export class DownlinkHandler {
  constructor(
    private readonly ctx: AgentContext,
    private readonly uplink: Uplink,
    private readonly production: Production,
  ) {}

  onMessage(topic: string, payload: Buffer): void {
    const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    if (topic === topics.receipt(this.ctx.deviceHex)) this.onReceipt(bytes);
    else if (topic === topics.control(this.ctx.deviceHex)) this.onControl(bytes);
  }

  /** Makes a channel from the outbox the current one (at start, and on a grant for a new one). */
  useStoredChannel(s: StoredChannel): void {
    const record = decodeChannelRecord(s.record);
    if (!record.ok) throw new Error(`stored channel record does not decode: ${record.code}`); // our own bytes
    const state = this.ctx.state;
    state.channel = {
      channelId: s.channelId,
      record: record.value,
      capacity: s.capacity,
      state: s.state,
      head: s.head,
    };
    state.outstanding = this.ctx.o.store.depth(s.channelId).vouchers;
    state.closedLogged = false;
  }

  private onReceipt(bytes: Uint8Array): void {
    const { o, state, counters } = this.ctx;
    const c = state.channel;
    const verdict = judgeReceipt(bytes, {
      hubKey: o.hubKey,
      channelId: c?.channelId,
      ackedSeq: state.receipt?.seq ?? 0n,
      head: c?.head,
      // The usual receipt covers the head this agent committed last, which it holds in memory.
      voucherAt: (seq) =>
        c === undefined
          ? undefined
          : seq === c.head.seq && c.head === this.production.ownHead
            ? c.head
            : o.store.voucherAt(c.channelId, seq),
      ...(o.backend ? { backend: o.backend } : {}),
    });
    if (verdict.ok === 'stale') {
      counters.receiptsIgnored++;
      this.ctx.log('RECEIPT_STALE');
      return;
    }
    if (!verdict.ok) {
      counters.receiptsIgnored++;
      this.ctx.log(verdict.code, verdict.detail);
      return;
    }
    const r = verdict.value;
    try {
      o.store.applyReceipt(r); // [P-5.2] delete only what a verified receipt covers
    } catch (err) {
      this.ctx.log('FLUSH_FAILED', `applying a receipt: ${(err as Error).message}`);
      return;
    }
    state.receipt = r;
    counters.receiptsApplied++;
    state.outstanding = Number(c!.head.seq - r.seq);
    this.production.checkBacklog();
    this.uplink.acked(r.seq);
    this.ctx.events.emit('receipt', r.seq, r.cumUnits, r.cumAmount);
    this.uplink.pump();
    this.production.flushIfBatchHeld();
  }

  private onControl(bytes: Uint8Array): void {
    const { o, counters } = this.ctx;
    const decoded =
      o.backend === undefined ? decodeControl(bytes, o.hubKey) : decodeControl(bytes, o.hubKey, o.backend);
    if (!decoded.ok) {
      counters.controlsIgnored++;
      this.ctx.log('CONTROL_INVALID', decoded.code);
      return;
    }
    const msg = decoded.value;
    if (msg.kind === 'grant') return this.onGrant(msg);
    const c = this.ctx.state.channel;
    if (c === undefined || !bytesEqual(c.channelId, msg.channelId)) {
      counters.controlsIgnored++;
      this.ctx.log('CONTROL_WRONG_CHANNEL', msg.kind);
      return;
    }
    if (msg.kind === 'resync') this.onResync(c, msg.head);
    else if (msg.kind === 'capacity')
      this.setLimits(c, msg.capacity > c.capacity ? msg.capacity : c.capacity, msg.state);
    else this.onReject(c, msg);
  }

  private onGrant(msg: Extract<Control, { kind: 'grant' }>): void {
    const { o, state } = this.ctx;
    const verdict = judgeGrant(msg, o.hubKey, o.keyPair.publicKey);
    if (!verdict.ok) {
      this.ctx.counters.controlsIgnored++;
      this.ctx.log(verdict.code, verdict.detail);
      return;
    }
    const g = verdict.value;
    const isNew = state.channel === undefined || !bytesEqual(state.channel.channelId, g.channelId);
    // A channel this device has never seen starts at the hub's head: seq 0 for a new channel, the
    // hub's head for a device restored without its outbox [P-7.1].
    const stored = o.store.saveChannel(
      { channelId: g.channelId, record: g.recordBytes, capacity: g.capacity, state: g.state },
      g.hubHead.seq > 0n ? g.hubHead : genesisHead(g.channelId),
    );
    if (isNew) {
      state.receipt = o.store.load().receipt;
      this.useStoredChannel(stored);
      this.uplink.rewind(0n);
    }
    const c = state.channel!;
    if (g.hubHead.seq > c.head.seq) {
      this.ctx.log('HUB_AHEAD', `hub at ${g.hubHead.seq}, device at ${c.head.seq}`);
      o.store.adoptHead(c.channelId, g.hubHead);
      c.head = g.hubHead;
      state.outstanding = 0;
      this.uplink.rewind(g.hubHead.seq);
    } else if (g.hubHead.seq < (state.receipt?.seq ?? 0n)) {
      this.ctx.log('HUB_BEHIND', `hub at ${g.hubHead.seq}, device holds a receipt for ${state.receipt?.seq}`);
    }
    if (isNew) {
      this.ctx.log(
        'CHANNEL_GRANTED',
        `${toHex(c.channelId)} unit ${c.record.unit} price ${formatMoney(c.record.pricePerUnit, c.record)} capacity ${formatMoney(c.capacity, c.record)}`,
      );
      this.ctx.events.emit('channel', toHex(c.channelId));
    }
    this.setLimits(c, g.capacity > c.capacity ? g.capacity : c.capacity, g.state);
    this.uplink.sendStatus(this.production.isExhausted ? 'exhausted' : 'online');
    this.uplink.pump();
    this.production.flushSoonIfPending();
  }

  private onResync(c: Channel, hubHead: Head): void {
    this.ctx.counters.resyncs++;
    const acked = this.ctx.state.receipt?.seq ?? 0n;
    if (hubHead.seq > c.head.seq) {
      this.ctx.log('HUB_AHEAD', `resync at ${hubHead.seq}, device at ${c.head.seq}`);
      return;
    }
    if (hubHead.seq < acked) {
      this.ctx.log(
        'HUB_BEHIND',
        `resync at ${hubHead.seq}, device holds a receipt for ${acked}; re-sending what it still has`,
      );
      this.uplink.rewind(acked);
    } else {
      const mine = this.ctx.o.store.hashAt(c.channelId, hubHead.seq);
      if (mine !== undefined && !bytesEqual(mine, hubHead.hash)) {
        this.ctx.log('RESYNC_MISMATCH', `seq ${hubHead.seq}`);
        return;
      }
      this.ctx.log('RESYNC', `from seq ${hubHead.seq + 1n}`);
      this.uplink.rewind(hubHead.seq);
    }
    this.uplink.pump();
  }

  private onReject(c: Channel, msg: Extract<Control, { kind: 'reject' }>): void {
    this.ctx.counters.rejects++;
    this.ctx.log('SEGMENT_REJECTED', `segment ending at ${msg.seq}: ${msg.reason}`);
    if (msg.reason === 'OVER_CAPACITY') this.setLimits(c, c.capacity, 'exhausted');
    else if (msg.reason === 'CHANNEL_CLOSED' || msg.reason === 'CHANNEL_EXPIRED')
      this.setLimits(c, c.capacity, 'closed');
  }

  private setLimits(c: Channel, capacity: bigint, state: ChannelState): void {
    if (capacity !== c.capacity || state !== c.state) {
      this.ctx.o.store.setChannelLimits(c.channelId, capacity, state);
      c.capacity = capacity;
      c.state = state;
    }
    if (state === 'open') {
      this.ctx.state.closedLogged = false;
      if (this.production.isExhausted && unitsAllowed(c.head, c.record.pricePerUnit, capacity) > 0n)
        this.production.setExhausted(false);
      this.production.flushSoonIfPending();
    } else if (state === 'exhausted') {
      this.production.setExhausted(true);
    }
  }
}
