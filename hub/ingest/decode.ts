// Step 1, decode: topic and payload to a typed message, with bounds [P-1.6, P-6.3]. The decoders
// in protocol/ check the size cap before anything else and never throw.

import { decodeSegment, decodeStatus, parseTopic, type Segment, type Status } from '../../protocol/index.js';
import { pass, stop, type Step } from './types.js';

export type Decoded =
  | { kind: 'segment'; deviceHex: string; segment: Segment; bytes: Uint8Array }
  | { kind: 'status'; deviceHex: string; status: Status };

export function decodeStep(topic: string, payload: Uint8Array): Step<Decoded> {
  const parsed = parseTopic(topic);
  if (!parsed || (parsed.kind !== 'seg' && parsed.kind !== 'status')) {
    return stop({
      stage: 'decode',
      reason: 'HUB_UNEXPECTED_TOPIC',
      deviceHex: null,
      channel: null,
      seq: null,
      vouchers: 1,
      detail: topic.slice(0, 120),
    });
  }
  const deviceHex = parsed.deviceHex;
  if (parsed.kind === 'status') {
    const status = decodeStatus(payload);
    if (!status.ok) {
      return stop({
        stage: 'status',
        reason: 'HUB_STATUS_INVALID',
        deviceHex,
        channel: null,
        seq: null,
        vouchers: 0,
        detail: status.code,
      });
    }
    return pass({ kind: 'status', deviceHex, status: status.value });
  }
  const segment = decodeSegment(payload);
  if (!segment.ok) {
    return stop({
      stage: 'decode',
      reason: segment.code,
      deviceHex,
      channel: null,
      seq: null,
      vouchers: 1,
      ...(segment.detail !== undefined ? { detail: segment.detail } : {}),
    });
  }
  return pass({ kind: 'segment', deviceHex, segment: segment.value, bytes: payload });
}
