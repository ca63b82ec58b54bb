// The throwaway nats-server cluster picks free ports, but another process may bind one before a
// node does (the tests' own connections take local ports from the same range). A node that exits
// because its port is taken makes the harness start again on fresh ports instead of failing.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../common/free-port.js';
import { findNatsServer, startNatsCluster } from '../../support/nats-cluster.js';

const bin = findNatsServer();

describe('nats-server harness', () => {
  if (!bin && !process.env.CI) {
    console.warn(
      'test/cluster/nats-port-taken.test.ts NOT RUN: no nats-server binary (install nats-server or set TALLY_NATS_BIN)',
    );
    it.skip('NOT RUN: no nats-server binary found (install nats-server or set TALLY_NATS_BIN)', () => {});
    return;
  }
  it('starts again on fresh ports when a node finds its port taken', async () => {
    if (!bin) throw new Error('nats-server not found: install it (Debian: nats-server) or set TALLY_NATS_BIN');
    const squatter: Server = await new Promise((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => resolve(srv));
    });
    const taken = (squatter.address() as AddressInfo).port;
    const handedOut: number[] = [];
    const pickPort = async () => {
      const port = handedOut.length === 0 ? taken : await freePort();
      handedOut.push(port);
      return port;
    };
    try {
      const cluster = await startNatsCluster({ bin, size: 3, pickPort });
      try {
        expect(handedOut[0]).toBe(taken);
        expect(handedOut.length).toBe(2 * 3 * 4); // two layouts of 3 nodes x 4 ports
        expect(cluster.nodes.every((n) => n.running)).toBe(true);
      } finally {
        await cluster.stop();
      }
    } finally {
      squatter.close();
    }
  }, 90_000);
});
