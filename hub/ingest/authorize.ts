// Step 2, authorize: a known, unrevoked device, publishing on its own topic, for an open channel
// of its own [P-6.1, P-3]. Nothing here costs more than a map lookup.

import { segmentHeadSeq, toHex, type Segment } from '../../protocol/index.js';
import type { LiveChannel, Registry } from '../model/registry.js';
import { pass, stop, type Step } from './types.js';

export function authorizeStep(registry: Registry, deviceHex: string, segment: Segment): Step<LiveChannel> {
  const vouchers = segment.vouchers.length;
  const seq = segmentHeadSeq(segment);
  const device = registry.devices.get(deviceHex);
  if (!device) return stop({ stage: 'authorize', reason: 'UNKNOWN_DEVICE', deviceHex, channel: null, seq, vouchers });
  const channel = registry.channels.get(toHex(segment.channelId));
  if (!channel) return stop({ stage: 'authorize', reason: 'UNKNOWN_CHANNEL', deviceHex, channel: null, seq, vouchers });
  if (channel.deviceHex !== deviceHex) {
    // The broker lets a device publish only under its own key; the channel must be that key's too.
    return stop({ stage: 'authorize', reason: 'TOPIC_MISMATCH', deviceHex, channel: null, seq, vouchers });
  }
  if (device.revoked || channel.state === 'closed' || channel.state === 'revoked') {
    return stop({
      stage: 'authorize',
      reason: 'CHANNEL_CLOSED',
      deviceHex,
      channel,
      seq,
      vouchers,
      detail: channel.state,
    });
  }
  return pass(channel);
}
