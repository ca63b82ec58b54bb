// The whole fleet as a cluster member's views show it: the database's committed state, which is
// the same for every hub whichever of them owns a device, committed its segments or closed the
// last epoch. What only the owner knows is added from its live state: whether the device is
// connected (its uplinks and its connection reach only the hub that owns its partition).
import type { HubStore } from '../store/types.js';
import { liveChannelFromRow, Registry } from './registry.js';

export async function fleetSnapshot(
  store: HubStore,
  live: Registry,
  owns: (deviceHex: string) => boolean,
): Promise<Registry> {
  const fleet = new Registry();
  for (const row of await store.listDevices()) {
    const device = fleet.addDevice(row);
    if (owns(device.hex)) device.connected = live.devices.get(device.hex)?.connected ?? false;
  }
  for (const row of await store.listChannels()) fleet.addChannel(liveChannelFromRow(row));
  return fleet;
}
