// Equivocation evidence is kept once per distinct conflicting segment. A device restored from an
// old backup re-sends its conflicting segments on every receipt timeout, forever; each copy is
// refused and counted, but storing each (up to 24 KiB) again would grow the database without bound.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bareCore, type BareCore } from './helpers/bare-core.js';
import { BareDevice, commitTurn, rejectionCounts } from './helpers/bare-device.js';
import { tempDir } from './helpers/hub.js';

describe('equivocation evidence', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: BareCore;
  beforeEach(async () => {
    tmp = tempDir();
    hub = await bareCore(tmp.dir);
  });
  afterEach(async () => {
    await hub.close();
    tmp.cleanup();
  });

  it('is stored once per distinct conflicting segment, however often it is re-sent', async () => {
    const d = await BareDevice.enrol(hub);
    const start = d.head;
    d.send(d.build(4));
    await commitTurn();
    const clone = d.build(4, 2n, { prev: start, advance: false });
    const other = d.build(4, 3n, { prev: start, advance: false });
    for (let i = 0; i < 5; i++) {
      d.send(clone);
      d.send(other); // same turn as the clone: both wait in one commit batch
      await commitTurn();
    }
    const evidence = await hub.core.ledger.listEquivocations(d.channelId);
    expect(evidence).toHaveLength(2);
    // Every copy is still refused, counted and told to the device.
    expect((await rejectionCounts(hub)).EQUIVOCATION).toBe(10n);
    expect(hub.controls.filter((c) => c.control.kind === 'reject')).toHaveLength(10);
    expect((await d.durable()).cumUnits).toBe(4n);
  });
});
