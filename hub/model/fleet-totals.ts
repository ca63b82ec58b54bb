// The fleet's committed totals as GET /api/stats and the dashboard's live tick show them: devices,
// channels by state, and what was accepted and settled. `fleetTotals` counts them in one pass over
// a fleet (the stats call, a cluster's whole fleet); the dashboard keeps the same figures up to
// date from the registry's changes instead (Activity.totals), since it shows them every second.
import type { ChannelState } from '../../protocol/index.js';
import type { LiveChannel, LiveDevice } from './registry.js';

export interface FleetTotals {
  devices: number;
  devicesConnected: number;
  devicesRevoked: number;
  channels: number;
  channelsByState: Record<string, number>;
  acceptedVouchers: string;
  acceptedUnits: string;
  acceptedAmount: string;
  settledAmount: string;
}

/** Every channel state, counted even at zero so the figures keep their shape. */
export const emptyByState = (): Record<ChannelState, number> => ({ open: 0, exhausted: 0, closed: 0, revoked: 0 });

export function fleetTotals(fleet: {
  readonly devices: ReadonlyMap<string, Readonly<LiveDevice>>;
  readonly channels: ReadonlyMap<string, Readonly<LiveChannel>>;
}): FleetTotals {
  let vouchers = 0n;
  let units = 0n;
  let amount = 0n;
  let settledAmount = 0n;
  let connected = 0;
  let revoked = 0;
  const byState: Record<string, number> = emptyByState();
  for (const ch of fleet.channels.values()) {
    vouchers += ch.durable.seq;
    units += ch.durable.cumUnits;
    amount += ch.durable.cumAmount;
    settledAmount += ch.settled.cumAmount;
    byState[ch.state] = (byState[ch.state] ?? 0) + 1;
  }
  for (const d of fleet.devices.values()) {
    if (d.connected) connected++;
    if (d.revoked) revoked++;
  }
  return {
    devices: fleet.devices.size,
    devicesConnected: connected,
    devicesRevoked: revoked,
    channels: fleet.channels.size,
    channelsByState: byState,
    acceptedVouchers: vouchers.toString(),
    acceptedUnits: units.toString(),
    acceptedAmount: amount.toString(),
    settledAmount: settledAmount.toString(),
  };
}
