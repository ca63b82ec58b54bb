// The Host check against DNS rebinding: a page from a name the attacker controls, re-pointed at
// the hub's address (127.0.0.1, or a LAN address), would otherwise read the open read API from a
// browser on the operator's machine, with its own name in the Host header. The hub answers only
// requests naming it: an IP address (a browser sends one only when the page itself came from that
// address, so no rebinding is possible), `localhost`, the listen address, and the names the
// operator configured (`--allowed-host`). A request without a Host header (HTTP/1.0) is not
// from a browser and passes.

import { isIP } from 'node:net';

/** The host part of a Host header, lowercased, without port, brackets or a trailing dot. */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (bracketed) return bracketed[1]!;
  const name = h.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function hostAllowed(header: string | undefined, listenHost: string, names: readonly string[]): boolean {
  if (header === undefined) return true;
  const host = hostOf(header);
  if (isIP(host) !== 0 || host === 'localhost') return true;
  return host === listenHost.toLowerCase() || names.includes(host);
}
