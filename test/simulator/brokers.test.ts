// tally-sim's --broker list: checked as a whole, and rotated per device so a fleet starts spread
// over the nodes of a clustered broker.
import { describe, expect, it } from 'vitest';
import { brokerUrlFor, parseBrokerList } from '../../simulator/brokers.js';

describe('tally-sim --broker', () => {
  it('takes one URL or several comma-separated, and names the bad ones', () => {
    expect(parseBrokerList('mqtt://a:1883')).toEqual({ ok: true, urls: ['mqtt://a:1883'] });
    expect(parseBrokerList('mqtt://a:1883, mqtts://b:8883,wss://c/mqtt')).toEqual({
      ok: true,
      urls: ['mqtt://a:1883', 'mqtts://b:8883', 'wss://c/mqtt'],
    });
    const bad = parseBrokerList('mqtt://a:1883,http://b,');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/not a broker URL: "http:\/\/b", ""$/);
  });

  it('starts device i at node i mod n and keeps every node in its list', () => {
    const list = 'mqtt://a,mqtt://b,mqtt://c';
    expect(brokerUrlFor(list, 0)).toBe(list);
    expect(brokerUrlFor(list, 1)).toBe('mqtt://b,mqtt://c,mqtt://a');
    expect(brokerUrlFor(list, 5)).toBe('mqtt://c,mqtt://a,mqtt://b');
    expect(brokerUrlFor('mqtt://a:1883', 7)).toBe('mqtt://a:1883');
  });
});
