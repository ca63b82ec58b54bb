// Child process of bench/hub-ingest.ts: plays the devices. It builds and signs every segment
// before the clock starts (device signing is not what this measures), then publishes them at QoS 1
// over one MQTT.js connection per device and waits for the receipts that cover the last seq of
// each device. Running in its own process gives the hub and its broker the other core.
import mqtt, { type MqttClient } from 'mqtt';
import {
  buildSegment,
  decodeReceipt,
  encodeSegment,
  fromHex,
  genesisHead,
  makeMqttCredential,
  topics,
  type Head,
} from '../../protocol/index.js';

export interface DeviceSpec {
  secretHex: string;
  publicHex: string;
  channelIdHex: string;
  price: string;
}

export type ToChild =
  | {
      kind: 'setup';
      url: string;
      hubKeyHex: string;
      devices: DeviceSpec[];
      perSegment: number;
      segmentsPerDevice: number;
    }
  | { kind: 'go' }
  | { kind: 'raw-setup'; url: string }
  | { kind: 'raw-go' }
  | { kind: 'exit' };

export type FromChild =
  { kind: 'ready' } | { kind: 'done'; vouchers: number } | { kind: 'raw-ready'; messages: number };

const send = (m: FromChild) => process.send!(m);

let payloads: Buffer[][] = []; // per device, in order
let finalSeq: bigint[] = [];
let clients: MqttClient[] = [];
let devices: DeviceSpec[] = [];

function connect(url: string, options: mqtt.IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, protocolVersion: 4, ...options });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

async function setup(m: Extract<ToChild, { kind: 'setup' }>): Promise<void> {
  devices = m.devices;
  const hubKey = fromHex(m.hubKeyHex)!;
  payloads = [];
  finalSeq = [];
  for (const d of devices) {
    const channelId = fromHex(d.channelIdHex)!;
    const secretKey = fromHex(d.secretHex)!;
    const price = BigInt(d.price);
    let head: Head = genesisHead(channelId);
    const list: Buffer[] = [];
    let t = 0n;
    for (let s = 0; s < m.segmentsPerDevice; s++) {
      const vouchers = [];
      let units = head.cumUnits;
      for (let i = 0; i < m.perSegment; i++) {
        units += 1n;
        vouchers.push({ cumUnits: units, cumAmount: units * price, deviceTimeMs: t++ });
      }
      const built = buildSegment({ channelId, prev: head, vouchers, secretKey });
      head = built.head;
      list.push(Buffer.from(encodeSegment(built.segment)));
    }
    payloads.push(list);
    finalSeq.push(head.seq);
  }
  clients = await Promise.all(
    devices.map((d) => {
      const cred = makeMqttCredential({
        hubKey,
        deviceSecretKey: fromHex(d.secretHex)!,
        devicePublicKey: fromHex(d.publicHex)!,
        issuedAtMs: BigInt(Date.now()),
      });
      return connect(m.url, {
        clientId: `tally-${d.publicHex}`,
        username: cred.username,
        password: cred.password,
        clean: true,
      });
    }),
  );
  await Promise.all(clients.map((c, i) => c.subscribeAsync(`tally/v1/d/${devices[i]!.publicHex}/down/#`, { qos: 1 })));
  send({ kind: 'ready' });
}

function go(): void {
  let remaining = devices.length;
  clients.forEach((c, i) => {
    let done = false;
    c.on('message', (topic, payload) => {
      if (done || !topic.endsWith('/receipt')) return;
      const r = decodeReceipt(payload);
      if (r.ok && r.value.seq >= finalSeq[i]!) {
        done = true;
        if (--remaining === 0) send({ kind: 'done', vouchers: Number(finalSeq.reduce((a, b) => a + b, 0n)) });
      }
    });
  });
  // Interleave the devices, as a fleet would.
  const rounds = payloads[0]!.length;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < clients.length; i++)
      clients[i]!.publish(topics.segment(devices[i]!.publicHex), payloads[i]![r]!, { qos: 1 });
  }
}

async function rawSetup(url: string): Promise<void> {
  for (const c of clients) c.end(true);
  clients = await Promise.all(devices.map((_, i) => connect(url, { clientId: `raw-${i}`, clean: true })));
  send({ kind: 'raw-ready', messages: payloads.flat().length });
}

function rawGo(): void {
  const rounds = payloads[0]!.length;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < clients.length; i++) clients[i]!.publish(`raw/${i}`, payloads[i]![r]!, { qos: 1 });
  }
}

process.on('message', (m: ToChild) => {
  const fail = (err: unknown) => {
    console.error(err);
    process.exit(1);
  };
  if (m.kind === 'setup') setup(m).catch(fail);
  else if (m.kind === 'go') go();
  else if (m.kind === 'raw-setup') rawSetup(m.url).catch(fail);
  else if (m.kind === 'raw-go') rawGo();
  else if (m.kind === 'exit') {
    for (const c of clients) c.end(true);
    process.exit(0);
  }
});
