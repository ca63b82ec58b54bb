// A real settlement bundle for the verifier tests: a hub, a device streaming signed vouchers over
// MQTT, an epoch closed, the bundle taken from the hub's API; and a copy with one byte of a signed
// voucher changed.
import { join } from 'node:path';
import { readyDevice } from '../hub/helpers/device.js';
import { testHub } from '../hub/helpers/hub.js';

export interface Bundles {
  /** The bundle as the hub serves it (JSON text). */
  valid: string;
  /** The same with one hex digit of the first entry's head voucher changed. */
  tampered: string;
  hubKey: string;
}

export async function makeBundles(dir: string): Promise<Bundles> {
  const hub = await testHub(join(dir, 'hub'));
  try {
    const devices = [await readyDevice(hub, { price: 7n }), await readyDevice(hub, { price: 2n, unit: 'L' })];
    for (const [i, d] of devices.entries()) {
      await d.publish(d.build(10 + i));
      await d.receiptAtLeast(BigInt(10 + i));
    }
    const epoch = (await hub.core.settle())!;
    const valid = await (await fetch(`${hub.httpUrl}/api/settlements/${epoch.epoch}/bundle`)).text();
    for (const d of devices) await d.disconnect();
    return { valid, tampered: tamper(valid), hubKey: hub.publicKeyHex };
  } finally {
    await hub.close();
  }
}

/** Changes one hex digit in the middle of the first entry's head voucher (a signed field). */
export function tamper(bundleText: string): string {
  const doc = JSON.parse(bundleText) as { entries: { headVoucher: string }[] };
  const v = doc.entries[0]!.headVoucher;
  const at = Math.floor(v.length / 2);
  doc.entries[0]!.headVoucher = v.slice(0, at) + (v[at] === 'a' ? 'b' : 'a') + v.slice(at + 1);
  return JSON.stringify(doc, null, 2);
}
