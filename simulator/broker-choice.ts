// Which broker `tally-sim run --hubs N` starts for its cluster (`--broker-nodes`, `--broker-engine`),
// checked before anything starts, and how a report names it. cluster-broker.ts starts it.

export const BROKER_ENGINES = ['aedes', 'nats', 'mosquitto'] as const;
export type BrokerKind = (typeof BROKER_ENGINES)[number];

/** The broker `--broker-nodes` and `--broker-engine` ask for. */
export interface BrokerChoice {
  kind: BrokerKind;
  nodes: number;
}

/** The broker of `--broker-nodes` and `--broker-engine` (either may be left out), or why not:
 *  aedes is one node; a nats-server cluster is odd-sized from 3 (a majority of its JetStream meta
 *  group survives one node down only from three up); Mosquitto bridges 2 to 7 nodes. */
export function chooseBroker(
  nodes: number | undefined,
  engine: string | undefined,
): { ok: true; choice: BrokerChoice } | { ok: false; error: string } {
  if (engine !== undefined && !(BROKER_ENGINES as readonly string[]).includes(engine))
    return { ok: false, error: `--broker-engine takes ${BROKER_ENGINES.join(', ')}; not ${JSON.stringify(engine)}` };
  const kind = (engine as BrokerKind | undefined) ?? (nodes === undefined || nodes === 1 ? 'aedes' : 'nats');
  const n = nodes ?? (kind === 'aedes' ? 1 : 3);
  if (kind === 'aedes' && n !== 1)
    return { ok: false, error: '--broker-engine aedes is one node; take nats or mosquitto for more' };
  if (kind === 'nats' && !(n >= 3 && n <= 7 && n % 2 === 1))
    return {
      ok: false,
      error:
        '--broker-nodes takes 1 (aedes) or 3, 5 or 7 for nats (a nats-server cluster keeps a JetStream majority with one node down only from 3 nodes)',
    };
  if (kind === 'mosquitto' && !(n >= 2 && n <= 7))
    return { ok: false, error: '--broker-engine mosquitto takes 2 to 7 nodes (--broker-nodes)' };
  return { ok: true, choice: { kind, nodes: n } };
}

/** The broker in a few words, for logs and reports. */
export function describeBroker(c: BrokerChoice): string {
  if (c.kind === 'nats') return `${c.nodes} nats-server nodes`;
  if (c.kind === 'mosquitto') return `${c.nodes} Mosquitto nodes bridged to the first`;
  return 'one aedes node';
}

/** What broker-node-down does to it. */
export const nodeDownMeaning = (kind: BrokerKind): string =>
  kind === 'aedes' ? 'outage, came back empty' : 'SIGKILL, clients moved to other nodes';
