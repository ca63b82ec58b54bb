// The owner's side of the control plane, without sockets: a change is applied only by the hub that
// owns the device, changes for one device in commit order, and a failing reload neither throws nor
// blocks the next change.
import { describe, expect, it } from 'vitest';
import { ControlRouter, type ControlTarget } from '../../hub/cluster/control.js';
import type { ControlChange } from '../../hub/store/control-notify.js';

const MINE = 'aa'.repeat(32);
const THEIRS = 'bb'.repeat(32);
const CH = 'cc'.repeat(32);

function target(log: string[], fail = new Set<string>()): ControlTarget {
  const step = async (what: string) => {
    // Each reload reads the database: let other changes interleave if the router allowed it.
    await new Promise((r) => setTimeout(r, what.startsWith('device') ? 20 : 1));
    if (fail.has(what)) throw new Error(`${what} failed`);
    log.push(what);
  };
  return {
    reloadDevice: (d) => step(`device ${d.slice(0, 2)}`),
    reloadChannel: (c, d) => step(`channel ${c.slice(0, 2)} of ${d.slice(0, 2)}`),
    reloadOwned: () => step('owned'),
  };
}

describe('control router', () => {
  const owns = (key: Uint8Array) => key[0] === 0xaa;

  it('acts only on the devices this hub owns', async () => {
    const log: string[] = [];
    const router = new ControlRouter(owns, target(log));
    await router.onChange({ kind: 'device', deviceKey: THEIRS, op: 'revoke' });
    await router.onChange({ kind: 'channel', channelId: CH, deviceKey: THEIRS, op: 'topup' });
    expect(log).toEqual([]);
    await router.onChange({ kind: 'channel', channelId: CH, deviceKey: MINE, op: 'topup' });
    expect(log).toEqual(['channel cc of aa']);
  });

  it('applies an enrolment of many devices to the ones this hub owns', async () => {
    const log: string[] = [];
    const router = new ControlRouter(owns, target(log));
    await router.onChange({ kind: 'devices', deviceKeys: [THEIRS, MINE, THEIRS], op: 'enrol' });
    expect(log).toEqual(['device aa']);
  });

  it("applies one device's changes in the order they were committed", async () => {
    const log: string[] = [];
    const router = new ControlRouter(owns, target(log));
    const changes: ControlChange[] = [
      { kind: 'device', deviceKey: MINE, op: 'enrol' }, // the slower reload
      { kind: 'channel', channelId: CH, deviceKey: MINE, op: 'topup' },
    ];
    await Promise.all(changes.map((c) => router.onChange(c)));
    expect(log).toEqual(['device aa', 'channel cc of aa']);
  });

  it('logs a failed reload and goes on with the next change', async () => {
    const log: string[] = [];
    const errors: string[] = [];
    const router = new ControlRouter(owns, target(log, new Set(['device aa'])), (_l, m) => void errors.push(m));
    await router.onChange({ kind: 'device', deviceKey: MINE, op: 'revoke' });
    await router.onChange({ kind: 'channel', channelId: CH, deviceKey: MINE, op: 'close' });
    await router.onResync();
    expect(log).toEqual(['channel cc of aa', 'owned']);
    expect(errors).toEqual(['control change device revoke not applied: device aa failed']);
  });
});
