// bench/nats-sessions: how fast a 3-node nats-server cluster takes a fleet's persistent MQTT
// sessions, by where it keeps each session's consumers. Every device of Tally connects with
// clean=false and subscribes at QoS 1 [P-6.1]; on nats-server each such subscription is a JetStream
// consumer. Times N clients (spread over the nodes, all at once) from CONNECT to their last SUBACK,
// two filters each, for:
//
//   default        consumers as the server makes them (replicated like the MQTT streams: R3, file)
//   r1-memory      consumer_replicas: 1, consumer_memory_storage: true (tally-sim --broker-nodes 3)
//
//   npx tsx bench/nats-sessions.ts [clients=300]
import mqtt from 'mqtt';
import { findNatsServer, startNatsCluster } from '../common/nats-cluster.js';

const bin = findNatsServer();
if (!bin) {
  console.error('bench/nats-sessions needs nats-server (Debian: nats-server, or TALLY_NATS_BIN)');
  process.exit(2);
}
const n = Number(process.argv[2] ?? 300);
const cases = [
  { name: 'default', mqttExtra: '  ack_wait: "5s"' },
  { name: 'r1-memory', mqttExtra: '  ack_wait: "5s"\n  consumer_replicas: 1\n  consumer_memory_storage: true' },
];
for (const c of cases) {
  const cluster = await startNatsCluster({ bin, size: 3, mqttExtra: c.mqttExtra, jetstreamMemory: '1GB' });
  const clients: mqtt.MqttClient[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<void>((resolve) => {
          const client = mqtt.connect(cluster.urls[i % 3]!, {
            clientId: `bench-${i}`,
            clean: false,
            protocolVersion: 4,
            reconnectPeriod: 1_000,
            connectTimeout: 60_000,
          });
          client.on('error', () => undefined);
          clients.push(client);
          client.once('connect', () => client.subscribe([`bench/${i}/a`, `bench/${i}/b`], { qos: 1 }, () => resolve()));
        }),
    ),
  );
  const ms = performance.now() - t0;
  console.log(`${c.name.padEnd(10)} ${n} sessions in ${Math.round(ms)} ms: ${Math.round(n / (ms / 1000))} sessions/s`);
  for (const client of clients) client.end(true);
  await cluster.stop();
}
