// The whole fleet as a cluster member's views show it. A hub of a cluster holds live only the
// devices whose partitions it owns; every other device is read from the database as its owner
// committed it. What this hub owns is taken from its live state (the same committed heads, plus
// what only the owner knows: whether the device is connected), so a view never mixes two ages of
// one device.
import { toHex } from '../../protocol/index.js';
import type { HubStore } from '../store/types.js';
import { liveChannelFromRow, Registry } from './registry.js';

export async function fleetSnapshot(
  store: HubStore,
  live: Registry,
  owns: (deviceHex: string) => boolean,
): Promise<Registry> {
  const fleet = new Registry();
  for (const row of await store.listDevices()) {
    const hex = toHex(row.deviceKey);
    const mine = owns(hex) ? live.devices.get(hex) : undefined;
    if (mine) fleet.devices.set(hex, mine);
    else fleet.addDevice(row);
  }
  for (const row of await store.listChannels()) {
    const idHex = toHex(row.channelId);
    const mine = live.channels.get(idHex);
    if (mine && owns(mine.deviceHex)) {
      fleet.channels.set(idHex, mine); // the live device already lists it
      continue;
    }
    fleet.addChannel(liveChannelFromRow(row));
  }
  return fleet;
}
