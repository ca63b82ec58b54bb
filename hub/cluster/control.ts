// The owner's side of the control plane: a change another hub committed (hub/store/control-notify.ts)
// reaches every hub; only the one owning the device acts on it, by reloading the device or channel
// from the database and sending the device its controls (GRANT, CAPACITY) at once. Changes for one
// device are applied in the order they were committed; a failure is logged and the next change (or
// the next resync) reloads from the database again, which holds the truth.

import { fromHex } from '../../protocol/index.js';
import type { ControlChange } from '../store/control-notify.js';

/** What the hub does for a change it owns. Each reload reads the database, then sends controls. */
export interface ControlTarget {
  /** Enrolled or revoked: the device and its channels as the database now has them. */
  reloadDevice(deviceKeyHex: string): Promise<void>;
  /** Topped up, closed, opened or another state change: that channel. */
  reloadChannel(channelIdHex: string, deviceKeyHex: string): Promise<void>;
  /** Notifications may have been missed: everything this hub owns. */
  reloadOwned(): Promise<void>;
}

export class ControlRouter {
  /** Per device, the end of the chain of changes being applied. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly owns: (deviceKey: Uint8Array) => boolean,
    private readonly target: ControlTarget,
    private readonly log: (level: 'warn' | 'error', message: string) => void = () => {},
  ) {}

  /** Applies a change if this hub owns its device; ignores it otherwise. Never throws. */
  onChange(change: ControlChange): Promise<void> {
    if (change.kind === 'devices')
      return Promise.all(
        change.deviceKeys.map((deviceKey) => this.onChange({ kind: 'device', deviceKey, op: change.op })),
      ).then(() => undefined);
    const key = fromHex(change.deviceKey);
    if (!key || !this.owns(key)) return Promise.resolve();
    const apply = () =>
      change.kind === 'device'
        ? this.target.reloadDevice(change.deviceKey)
        : this.target.reloadChannel(change.channelId, change.deviceKey);
    const prev = this.chains.get(change.deviceKey) ?? Promise.resolve();
    const next = prev.then(apply).catch((err: unknown) => {
      this.log('error', `control change ${change.kind} ${change.op} not applied: ${(err as Error).message}`);
    });
    this.chains.set(change.deviceKey, next);
    void next.then(() => {
      if (this.chains.get(change.deviceKey) === next) this.chains.delete(change.deviceKey);
    });
    return next;
  }

  onResync(): Promise<void> {
    return this.target.reloadOwned().catch((err: unknown) => {
      this.log('error', `reload after a control-plane reconnect failed: ${(err as Error).message}`);
    });
  }
}
