// What the clustered broker (nats-server, 3 nodes, JetStream, MQTT) does for Tally, checked
// against the real server: QoS 1 across nodes, a persistent session that outlives the node it was
// on, client-id takeover across nodes, QoS 2 refused. docs/scale-out.md cites these cases.
// Runs when a nats-server binary is found; without one the suite says it did not run; under
// CI=true a missing binary fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { findNatsServer, startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';

const bin = findNatsServer();

const connect = (url: string | string[], clientId: string, clean: boolean): Promise<MqttClient> =>
  mqtt.connectAsync(Array.isArray(url) ? url[0]! : url, {
    clientId,
    clean,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });

function collect(c: MqttClient): string[] {
  const got: string[] = [];
  c.on('message', (_t, p) => got.push(p.toString()));
  return got;
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (!bin) {
  describe('clustered broker (nats-server)', () => {
    if (process.env.CI) {
      it('needs a nats-server binary in CI', () => {
        throw new Error('nats-server not found: install it (Debian: nats-server) or set TALLY_NATS_BIN');
      });
    } else {
      console.warn(
        'test/cluster/nats-broker.test.ts NOT RUN: no nats-server binary (install nats-server or set TALLY_NATS_BIN)',
      );
      it.skip('NOT RUN: no nats-server binary found (install nats-server or set TALLY_NATS_BIN)', () => {});
    }
  });
} else {
  describe('clustered broker: nats-server, 3 nodes with JetStream and MQTT', () => {
    let cluster: NatsCluster;
    const clients: MqttClient[] = [];
    const track = (c: MqttClient) => (clients.push(c), c);

    beforeAll(async () => {
      cluster = await startNatsCluster({ bin, size: 3, mqttExtra: '  ack_wait: "5s"' });
    });
    afterAll(async () => {
      for (const c of clients) c.end(true);
      await cluster?.stop();
    });

    it('carries QoS 1 from a publisher on one node to a subscriber on another', async () => {
      const sub = track(await connect(cluster.urls[0]!, 'probe-sub-a', true));
      const got = collect(sub);
      const granted = await sub.subscribeAsync('tally/test/a/+', { qos: 1 });
      expect(granted[0]!.qos).toBe(1);
      const pub = track(await connect(cluster.urls[1]!, 'probe-pub-a', true));
      for (let i = 0; i < 20; i++) await pub.publishAsync(`tally/test/a/${i}`, String(i), { qos: 1 });
      await until(() => got.length >= 20, '20 messages');
      expect([...got].sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    });

    it('grants QoS 1 for a QoS 2 subscription and closes a client that publishes at QoS 2', async () => {
      const c = track(await connect(cluster.urls[0]!, 'probe-qos2', true));
      const granted = await c.subscribeAsync('tally/test/q2', { qos: 2 });
      expect(granted[0]!.qos).toBe(1);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish('tally/test/q2', 'x', { qos: 2 });
      await closed;
    });

    it('takes a client id over across nodes: the older connection is closed', async () => {
      const first = track(await connect(cluster.urls[0]!, 'probe-takeover', false));
      const closed = new Promise<void>((r) => first.once('close', () => r()));
      const second = track(await connect(cluster.urls[2]!, 'probe-takeover', false));
      await closed;
      expect(second.connected).toBe(true);
      await second.endAsync();
    });

    it("keeps a persistent session's subscription and queued QoS 1 messages when its node dies", async () => {
      const sub = await connect(cluster.urls[2]!, 'probe-durable', false);
      await sub.subscribeAsync('tally/test/d/+', { qos: 1 });
      sub.end(true);
      const pub = track(await connect(cluster.urls[0]!, 'probe-pub-d', true));
      // Published while the subscriber is away: JetStream holds them for its session.
      for (let i = 0; i < 10; i++) await pub.publishAsync(`tally/test/d/${i}`, String(i), { qos: 1 });
      await cluster.kill(2);
      try {
        // Until JetStream has elected a new leader for the session stream (a few seconds when the
        // dead node led it), the other nodes close a CONNECT unanswered: the client retries.
        const again = track(
          mqtt.connect(cluster.urls[1]!, {
            clientId: 'probe-durable',
            clean: false,
            protocolVersion: 4,
            reconnectPeriod: 500,
            connectTimeout: 10_000,
          }),
        );
        const got = collect(again);
        await until(() => got.length >= 10, '10 queued messages');
        expect(new Set(got).size).toBe(10);
      } finally {
        await cluster.restart(2);
      }
      // The restarted node serves MQTT again.
      const back = track(await connect(cluster.urls[2]!, 'probe-back', true));
      expect(back.connected).toBe(true);
    });
  });
}
