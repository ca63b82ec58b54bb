// The broker of a running hub as tally-sim takes it: one URL, or the nodes of a clustered broker
// comma-separated. Each device gets the list rotated by its index, so the fleet's first connections
// spread over the nodes, and each device moves on to the next node when its own dies (the agent
// tries the URLs in turn, agent/link.ts).

const BROKER_URL = /^(mqtt|mqtts|ws|wss):\/\/[^\s,]+$/;

/** The URLs of `--broker`, or a reason it is not usable. */
export function parseBrokerList(text: string): { ok: true; urls: string[] } | { ok: false; error: string } {
  const urls = text.split(',').map((u) => u.trim());
  const bad = urls.filter((u) => !BROKER_URL.test(u));
  if (bad.length > 0) {
    return {
      ok: false,
      error: `--broker takes mqtt://, mqtts://, ws:// or wss:// URLs, comma-separated; not a broker URL: ${bad.map((u) => JSON.stringify(u)).join(', ')}`,
    };
  }
  return { ok: true, urls };
}

/** The list for device `index`: the same nodes, starting at node `index mod n`. */
export function brokerUrlFor(text: string, index: number): string {
  const urls = text.split(',').map((u) => u.trim());
  if (urls.length === 1) return text;
  const first = index % urls.length;
  return [...urls.slice(first), ...urls.slice(0, first)].join(',');
}
