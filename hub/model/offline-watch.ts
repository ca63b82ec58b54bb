// device.offline: a device is offline once it has stayed disconnected for `offlineAfterMs` since
// a disconnect the hub saw. Disconnects are queued in the order they happen, which is the order of
// their deadlines, so each check looks only at the head of the queue: the work is proportional to
// the disconnects that came due, never to the fleet. A reconnect does not search the queue; it
// bumps the device's generation, and the stale entry is dropped when it reaches the head.

export interface OfflineDue {
  deviceHex: string;
  disconnectedAtMs: number;
}

export class OfflineWatch {
  private readonly queue: { deviceHex: string; atMs: number; generation: number }[] = [];
  private head = 0;
  /** Per device, the generation of its current disconnect (odd) or connection (even). */
  private readonly generation = new Map<string, number>();

  constructor(readonly offlineAfterMs: number) {}

  disconnected(deviceHex: string, atMs: number): void {
    const g = (this.generation.get(deviceHex) ?? 0) + 1;
    this.generation.set(deviceHex, g);
    this.queue.push({ deviceHex, atMs, generation: g });
  }

  connected(deviceHex: string): void {
    const g = this.generation.get(deviceHex);
    if (g !== undefined) this.generation.set(deviceHex, g + 1);
  }

  /** Entries waiting (a flapping device has one per disconnect within the window). */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** Devices whose disconnect is `offlineAfterMs` old at `nowMs` and who did not come back. */
  due(nowMs: number): OfflineDue[] {
    const out: OfflineDue[] = [];
    while (this.head < this.queue.length) {
      const e = this.queue[this.head]!;
      if (e.atMs + this.offlineAfterMs > nowMs) break;
      this.head++;
      if (this.generation.get(e.deviceHex) === e.generation) {
        out.push({ deviceHex: e.deviceHex, disconnectedAtMs: e.atMs });
        this.generation.delete(e.deviceHex);
      }
    }
    // Drop the consumed prefix now and then, so the array does not grow with the hub's uptime.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return out;
  }
}
