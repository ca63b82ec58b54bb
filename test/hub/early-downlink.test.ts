// A hub on an external broker with a persistent session is handed the uplinks queued for it the
// moment it connects, before its broker link reaches the core. What the core commits and sends in
// that moment must reach the devices once the link is there, not vanish (the device would wait for
// its acknowledgement timer and send it all again).
import { afterEach, expect, it } from 'vitest';
import { decodeReceipt } from '../../protocol/index.js';
import { bareCore, type BareCore } from './helpers/bare-core.js';
import { BareDevice } from './helpers/bare-device.js';
import { tempDir } from './helpers/hub.js';

let hub: BareCore | undefined;
let cleanup: (() => void) | undefined;
afterEach(async () => {
  await hub?.close();
  cleanup?.();
  hub = undefined;
});

it('holds the receipt of a segment committed before the downlink is attached, then sends it', async () => {
  const tmp = tempDir();
  cleanup = tmp.cleanup;
  hub = await bareCore(tmp.dir, {}, undefined, { attachLater: true });
  const d = await BareDevice.enrol(hub);
  d.send(d.build(5));
  await hub.core.flush();
  expect((await hub.core.ledger.getChannel(d.channelId))!.head.seq).toBe(5n);
  expect(hub.receipts).toHaveLength(0);

  hub.attach();
  expect(hub.receipts).toHaveLength(1);
  const receipt = decodeReceipt(hub.receipts[0]!.bytes);
  expect(receipt.ok && receipt.value.seq).toBe(5n);
});
