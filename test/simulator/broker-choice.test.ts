// Which broker `--broker-nodes` and `--broker-engine` pick for tally-sim's embedded cluster.
import { describe, expect, it } from 'vitest';
import { chooseBroker, describeBroker } from '../../simulator/broker-choice.js';

describe('chooseBroker', () => {
  it.each([
    [undefined, undefined, { kind: 'aedes', nodes: 1 }],
    [1, undefined, { kind: 'aedes', nodes: 1 }],
    [3, undefined, { kind: 'nats', nodes: 3 }],
    [undefined, 'nats', { kind: 'nats', nodes: 3 }],
    [undefined, 'mosquitto', { kind: 'mosquitto', nodes: 3 }],
    [2, 'mosquitto', { kind: 'mosquitto', nodes: 2 }],
    [7, 'nats', { kind: 'nats', nodes: 7 }],
  ] as const)('%s nodes of %s: %j', (nodes, engine, choice) => {
    expect(chooseBroker(nodes, engine)).toEqual({ ok: true, choice });
  });

  it.each([
    [2, undefined, /3, 5 or 7 for nats/],
    [4, 'nats', /3, 5 or 7 for nats/],
    [3, 'aedes', /aedes is one node/],
    [1, 'mosquitto', /2 to 7 nodes/],
    [undefined, 'emqx', /takes aedes, nats, mosquitto/],
  ] as const)('refuses %s nodes of %s', (nodes, engine, why) => {
    const r = chooseBroker(nodes, engine);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });

  it('names each broker in the report', () => {
    expect(describeBroker({ kind: 'aedes', nodes: 1 })).toBe('one aedes node');
    expect(describeBroker({ kind: 'nats', nodes: 5 })).toBe('5 nats-server nodes');
    expect(describeBroker({ kind: 'mosquitto', nodes: 3 })).toBe('3 Mosquitto nodes bridged to the first');
  });
});
