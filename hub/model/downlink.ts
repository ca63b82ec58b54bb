// The hub's outgoing side: receipts and control messages to one device's downlink topics [P-6.1].
// The embedded broker (broker/embedded.ts) and the MQTT client for an external broker
// (broker/link.ts) both carry it; the model's Controls and the group commit publish through it.

import { topics } from '../../protocol/index.js';

/** Publishes to a device's downlink topics [P-6.1]. */
export interface Downlink {
  publishReceipt(deviceHex: string, bytes: Uint8Array): void;
  publishControl(deviceHex: string, bytes: Uint8Array): void;
}

/** The hub's downlink over any publish function: receipts and control messages to a device's topics [P-6.1]. */
export function downlinkVia(publish: (topic: string, bytes: Uint8Array) => void): Downlink {
  return {
    publishReceipt: (deviceHex, bytes) => publish(topics.receipt(deviceHex), bytes),
    publishControl: (deviceHex, bytes) => publish(topics.control(deviceHex), bytes),
  };
}
