// A broker and acknowledging hub in their own process, so the agent's CPU and memory are measured
// alone. Prints one JSON line {url, hubKey}, then runs until stdin closes.
import { TestHub } from '../../support/test-hub.js';

const hub = new TestHub({ capacity: 1n << 62n, pricePerUnit: 1n });
await hub.start();
process.stdout.write(
  `${JSON.stringify({ url: hub.url, hubKey: hub.hubKeyHex, hubSecret: Buffer.from(hub.keyPair.secretKey).toString('hex') })}\n`,
);
process.stdin.resume();
process.stdin.on('end', () => {
  void hub.stop().then(() => process.exit(0));
});
