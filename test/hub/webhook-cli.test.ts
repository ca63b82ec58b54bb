// `tally-hub webhook ...` and `tally-hub channel low-capacity` as real processes: on a stopped
// hub's database, and through a running hub's API; usage errors exit 2, refused input 1 with its
// code, and events written while no hub runs wait in the outbox for the next start.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair, toHex } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { newSecret } from '../../hub/webhooks/sign.js';
import { waitFor } from '../../support/test-hub.js';
import { tempDir, testHub } from './helpers/hub.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { runHubCli } from './helpers/hub-cli.js';

const cli = runHubCli;

describe('tally-hub webhook', () => {
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  const secret = newSecret();
  const receiver = new WebhookReceiver(secret);
  let hub: HubHandle | undefined;
  afterAll(async () => {
    await hub?.close();
    await receiver.stop();
    tmp.cleanup();
  });

  it(
    'manages subscriptions and thresholds on a stopped hub; its events wait for the next start',
    { timeout: 180_000 },
    async () => {
      await receiver.start();
      expect((await cli(['init', '--data', data, '--json', '--network', 'test-net'])).code).toBe(0);
      const file = join(tmp.dir, 'hook.secret');
      writeFileSync(file, secret + '\n');
      const added = await cli([
        'webhook',
        'add',
        receiver.url,
        '--events',
        'epoch.settled,channel.closed',
        '--secret-file',
        file,
        '--data',
        data,
        '--json',
      ]);
      expect(added.code, added.stderr).toBe(0);
      const sub = JSON.parse(added.stdout) as { id: string; secret: string; events: string[] };
      expect(sub).toMatchObject({ secret, events: ['epoch.settled', 'channel.closed'] });

      const unknown = await cli(['webhook', 'add', receiver.url, '--events', 'channel.nope', '--data', data]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('API_INVALID');
      const noFile = await cli([
        'webhook',
        'add',
        receiver.url,
        '--events',
        '*',
        '--secret-file',
        join(tmp.dir, 'missing'),
        '--data',
        data,
      ]);
      expect(noFile.code).toBe(2);
      expect((await cli(['webhook', 'add', receiver.url, '--data', data])).code).toBe(2); // --events missing

      const device = toHex(generateKeyPair().publicKey);
      const enrolled = await cli([
        'device',
        'add',
        '--public-key',
        device,
        '--unit',
        'Wh',
        '--price',
        '2',
        '--capacity',
        '1000',
        '--data',
        data,
        '--json',
      ]);
      const channelId = (JSON.parse(enrolled.stdout) as { channel: { channelId: string } }).channel.channelId;
      const set = await cli(['channel', 'low-capacity', channelId, '5%', '--data', data, '--json']);
      expect(JSON.parse(set.stdout)).toEqual({ channelId, lowCapacity: '5%', source: 'channel' });
      expect(
        JSON.parse((await cli(['channel', 'low-capacity', channelId, '--data', data, '--json'])).stdout),
      ).toMatchObject({ lowCapacity: '5%' });
      expect((await cli(['channel', 'low-capacity', channelId, 'lots', '--data', data])).code).toBe(1);

      // Closing the channel on the stopped hub writes channel.closed to the outbox.
      expect((await cli(['channel', 'close', channelId, '--data', data])).code).toBe(0);
      const pending = JSON.parse((await cli(['webhook', 'deliveries', '--data', data, '--json'])).stdout) as {
        counts: Record<string, number>;
      };
      expect(pending.counts).toEqual({ pending: 1, delivered: 0, dead: 0 });

      // The hub starts and sends it; the CLI now goes through its API.
      hub = await testHub(data, { webhooks: { pollMs: 50 } });
      await waitFor(() => receiver.ofType('channel.closed').length === 1, 'channel.closed delivered', 10_000);
      const listed = await cli(['webhook', 'list', '--data', data]);
      expect(listed.stdout).toContain(receiver.url);
      expect(listed.stdout).not.toContain('whsec_');
      const after = JSON.parse(
        (await cli(['webhook', 'deliveries', '--state', 'delivered', '--data', data, '--json'])).stdout,
      ) as {
        deliveries: { type: string; state: string }[];
      };
      expect(after.deliveries).toMatchObject([{ type: 'channel.closed', state: 'delivered' }]);
      const removed = await cli(['webhook', 'remove', sub.id, '--data', data, '--json']);
      expect(JSON.parse(removed.stdout)).toEqual({ id: sub.id, removed: true });
      expect((await cli(['webhook', 'remove', sub.id, '--data', data])).code).toBe(1);
    },
  );
});
