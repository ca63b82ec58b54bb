// A real webhook receiver on node:http for the webhook tests: it records every request, checks
// its signature with the standardwebhooks package (an implementation independent of the hub's),
// deduplicates on webhook-id as a receiver should, and can answer 200, fail with 500, hang without
// answering, or be stopped and started again on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type Mode = 'ok' | 'fail' | 'hang';

export interface Received {
  id: string;
  type: string;
  body: string;
  verified: boolean;
}

export class WebhookReceiver {
  mode: Mode = 'ok';
  /** Every request, in arrival order (retries and duplicates included). */
  readonly requests: Received[] = [];
  /** Requests answered 2xx, first one per webhook-id: what a deduplicating receiver keeps. */
  readonly accepted = new Map<string, Received>();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly hung: ServerResponse[] = [];
  port = 0;

  constructor(private readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops every connection (a receiver that crashed). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    this.hung.splice(0);
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** Deliveries accepted of a type. */
  ofType(type: string): Received[] {
    return [...this.accepted.values()].filter((r) => r.type === type);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(req.headers['webhook-id']),
      'webhook-timestamp': String(req.headers['webhook-timestamp']),
      'webhook-signature': String(req.headers['webhook-signature']),
    };
    let verified = true;
    try {
      new Webhook(this.secret).verify(body, headers);
    } catch {
      verified = false;
    }
    const type = (JSON.parse(body) as { type: string }).type;
    const r: Received = { id: headers['webhook-id'], type, body, verified };
    this.requests.push(r);
    if (this.mode === 'hang') {
      this.hung.push(res);
      return;
    }
    if (this.mode === 'fail' || !verified) {
      res.writeHead(500).end('no');
      return;
    }
    if (!this.accepted.has(r.id)) this.accepted.set(r.id, r);
    res.writeHead(204).end();
  }
}
