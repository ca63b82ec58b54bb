// `tally-hub webhook ...`: subscriptions, deliveries and dead letters (docs/webhooks.md), through
// the running hub's API or the database, like every management command. `channel low-capacity`
// lives here too: it sets the threshold of the channel.low_capacity event.

import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ConfigError } from '../base/config.js';
import { WEBHOOK_EVENT_TYPES } from '../base/webhook-config.js';
import type { Admin } from './admin.js';
import { printBlock, printTable } from './format.js';

type Opts = Record<string, unknown>;
type Manage = (
  action: (admin: Admin, opts: Opts, args: string[]) => Promise<unknown>,
  print: (value: unknown, opts: Opts) => void,
) => (...raw: unknown[]) => Promise<void>;

const block = (v: unknown) => printBlock(v as Record<string, unknown>);

export function webhookCommand(manage: Manage, dataOption: () => Option, jsonOption: () => Option): Command {
  const webhook = new Command('webhook').description('webhook subscriptions, deliveries and dead letters');
  webhook
    .command('add <url>')
    .description('send events to URL, signed with a per-subscription secret (Standard Webhooks)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .requiredOption(
      '--events <types>',
      `comma-separated event types, or '*' for all: ${WEBHOOK_EVENT_TYPES.join(', ')}`,
    )
    .option('--secret-file <file>', 'file holding the secret (whsec_ + base64); default: a new one, printed once')
    .addHelpText(
      'after',
      `
The secret signs every request (webhook-signature header); the receiver verifies it with the
same secret (docs/webhooks.md has a snippet). Without --secret-file a new secret is made and
printed once: keep it, it is not shown again.

Examples:
  tally-hub webhook add https://billing.example/hooks/tally --events channel.exhausted,channel.low_capacity
  tally-hub webhook add http://127.0.0.1:8123/api/webhook/tally --events '*' --secret-file hook.secret`,
    )
    .action(
      manage(async (a, o, [url]) => {
        let secret: string | undefined;
        if (o.secretFile) {
          try {
            secret = readFileSync(String(o.secretFile), 'utf8').trim();
          } catch (err) {
            throw new ConfigError([`--secret-file: ${(err as Error).message}`]);
          }
        }
        const events = String(o.events)
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean);
        return a.webhookAdd({ url: url!, events, ...(secret !== undefined ? { secret } : {}) });
      }, block),
    );
  webhook
    .command('list')
    .description('the subscriptions (secrets are never shown again)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(
      manage(
        (a) => a.webhookList(),
        (v) =>
          printTable(
            (v as Record<string, unknown>[]).map((s) => ({ ...s, events: (s.events as string[]).join(',') })),
            [
              ['id', 'ID'],
              ['url', 'URL'],
              ['events', 'EVENTS'],
              ['createdAt', 'CREATED'],
            ],
          ),
      ),
    );
  webhook
    .command('remove <id>')
    .description('remove a subscription and the deliveries still owed to it')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(manage((a, _o, [id]) => a.webhookRemove(id!), block));
  webhook
    .command('deliveries')
    .description('deliveries, newest first, with the counts by state (dead = dead letters)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .addOption(new Option('--state <state>', 'only this state').choices(['pending', 'delivered', 'dead']))
    .option('--limit <n>', 'rows to show', '20')
    .action(
      manage(
        (a, o) => a.webhookDeliveries({ limit: Number(o.limit), ...(o.state ? { state: String(o.state) } : {}) }),
        (v) => {
          const r = v as { counts: Record<string, number>; deliveries: Record<string, unknown>[] };
          process.stdout.write(
            `pending ${r.counts.pending}  delivered ${r.counts.delivered}  dead ${r.counts.dead}\n\n`,
          );
          printTable(r.deliveries, [
            ['id', 'ID'],
            ['type', 'TYPE'],
            ['eventId', 'EVENT'],
            ['subscriptionId', 'SUB'],
            ['state', 'STATE'],
            ['attempts', 'ATTEMPTS'],
            ['lastError', 'LAST ERROR'],
            ['nextAttemptAt', 'NEXT'],
          ]);
        },
      ),
    );
  webhook
    .command('retry <deliveryId>')
    .description('send a delivery again from scratch: a dead letter, or a replay of a delivered one')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(manage((a, _o, [id]) => a.webhookRetry(id!), block));
  return webhook;
}

/** `tally-hub channel low-capacity <id> [threshold]`. */
export function lowCapacityCommand(manage: Manage, dataOption: () => Option, jsonOption: () => Option): Command {
  return new Command('low-capacity')
    .argument('<id>', 'channel id (hex, or a unique prefix of 8+ characters)')
    .argument('[threshold]', "minor units (5000), a share of the capacity (10%), 'off', or 'default'")
    .description("show or set the channel's channel.low_capacity threshold (webhooks)")
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(
      manage(
        (a, _o, [id, threshold]) =>
          a.lowCapacity(id!, !threshold ? undefined : threshold === 'default' ? null : threshold),
        block,
      ),
    );
}
