// A bounded least-recently-used map for node:crypto KeyObjects. Building a KeyObject from raw
// bytes costs more than the signature check itself, and the hub verifies the same few thousand
// device keys over and over; the bound keeps a flood of unknown keys from growing memory.

export class BoundedCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`cache capacity must be a positive integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached value for `key`, creating it with `make` on a miss and evicting the oldest entry. */
  getOrCreate(key: string, make: () => V): V {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Move to the back: a Map iterates in insertion order, so the front is least recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = make();
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, value);
    return value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }
}
