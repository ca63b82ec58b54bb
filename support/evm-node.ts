// An in-process EVM node for the anchoring tests: Hardhat's EDR (the Rust EVM behind `hardhat node`,
// shipped as an npm package with prebuilt native binaries) behind a real HTTP JSON-RPC endpoint on
// loopback, so the code under test talks to it exactly as to any node. The endpoint can be taken
// down and brought back on the same port, answer 503 for a while, or lose a transaction after
// accepting it, to exercise the publisher's retries.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import edr from '@nomicfoundation/edr';
import type { Provider } from '@nomicfoundation/edr';

const {
  ContractDecoder,
  EdrContext,
  L1_CHAIN_TYPE,
  MineOrdering,
  l1GenesisState,
  l1HardforkLatest,
  l1ProviderFactory,
} = edr;
const { l1HardforkToString } = edr;

export const CHAIN_ID = 31337n;
/** Funded test accounts (fixed private keys; 1000 ETH each). */
export const TEST_KEYS = [
  '0x1111111111111111111111111111111111111111111111111111111111111111',
  '0x2222222222222222222222222222222222222222222222222222222222222222',
] as const;

interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: number | string | null;
  method: string;
  params?: unknown[];
}

/**
 * What the endpoint does with a raw transaction: pass it on; accept it and lose it; pass it on and
 * lose the answer (the client sees a 503, the node has the transaction); or pass it on and then mine
 * whatever is pending (after a test turned automine off).
 */
export type SendHook = (raw: string, node: EvmNode) => Promise<'forward' | 'drop' | 'lose-answer' | 'forward-and-mine'>;

const LOST = Symbol('answer lost');

let context: InstanceType<typeof EdrContext> | undefined;

/** EDR allows one context per process ("should only be called once"). */
async function edrContext(): Promise<InstanceType<typeof EdrContext>> {
  if (!context) {
    context = new EdrContext();
    await context.registerProviderFactory(L1_CHAIN_TYPE, l1ProviderFactory());
  }
  return context;
}

export class EvmNode {
  /** Requests the endpoint received, by method (refused connections never arrive). */
  readonly calls = new Map<string, number>();
  /** Raw transactions the endpoint accepted and then lost on purpose. */
  readonly dropped: string[] = [];
  /** Raw transactions passed on whose answer the endpoint lost on purpose. */
  readonly answersLost: string[] = [];
  onSend: SendHook | undefined;
  private unavailableFor = 0;
  private server: Server | undefined;
  private port = 0;

  private constructor(private readonly provider: Provider) {}

  static async start(addresses: readonly `0x${string}`[]): Promise<EvmNode> {
    const hardfork = l1HardforkLatest();
    const genesisState = [
      ...l1GenesisState(hardfork),
      ...addresses.map((a) => ({ address: Buffer.from(a.slice(2), 'hex'), balance: 1000n * 10n ** 18n })),
    ];
    const provider = await (
      await edrContext()
    ).createProvider(
      L1_CHAIN_TYPE,
      {
        allowBlocksWithSameTimestamp: false,
        allowUnlimitedContractSize: false,
        // As a real node: a reverting eth_call is an error; a reverting transaction is mined (status 0).
        bailOnCallFailure: true,
        bailOnTransactionFailure: false,
        chainId: CHAIN_ID,
        coinbase: Buffer.alloc(20),
        // Under the per-transaction cap of EIP-7825 (2^24), which the latest hardfork enforces.
        defaultTransactionGasLimit: 16_000_000n,
        genesisState,
        hardfork: l1HardforkToString(hardfork),
        initialBaseFeePerGas: 1_000_000_000n,
        minGasPrice: 0n,
        mining: { autoMine: true, memPool: { order: MineOrdering.Priority } },
        network: { genesisBlockGasLimit: 30_000_000n },
        networkId: CHAIN_ID,
        observability: {},
        ownedAccounts: [],
        precompileOverrides: [],
      },
      { enable: false, decodeConsoleLogInputsCallback: () => [], printLineCallback: () => {} },
      { subscriptionCallback: () => {} },
      new ContractDecoder(),
    );
    const node = new EvmNode(provider);
    await node.up();
    return node;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A JSON-RPC call straight to the EVM (not through the endpoint); throws on an RPC error. */
  async rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const data = await this.handle({ jsonrpc: '2.0', id: 0, method, params });
    if ('error' in data) throw new Error(`${method}: ${JSON.stringify(data.error)}`);
    return data.result as T;
  }

  /** The JSON-RPC answer as the EVM gives it, error included (EDR puts revert data in error.data.data). */
  answer(method: string, params: unknown[] = []): Promise<Record<string, unknown>> {
    return this.handle({ jsonrpc: '2.0', id: 0, method, params });
  }

  /** Stops accepting connections (clients get ECONNREFUSED) until up(); the chain keeps its state. */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Listens again, on the same port as before once one was chosen. */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.serve(req, res));
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** The next n requests are answered 503 Service Unavailable. */
  unavailable(n: number): void {
    this.unavailableFor = n;
  }

  async close(): Promise<void> {
    await this.down();
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.unavailableFor > 0) {
      this.unavailableFor -= 1;
      this.count('503');
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonRpcRequest | JsonRpcRequest[];
    const answer = Array.isArray(body)
      ? await Promise.all(body.map((r) => this.viaEndpoint(r)))
      : await this.viaEndpoint(body);
    if (answer === LOST) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  }

  private count(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
  }

  private async viaEndpoint(request: JsonRpcRequest): Promise<Record<string, unknown> | typeof LOST> {
    this.count(request.method);
    if (request.method === 'eth_sendRawTransaction' && this.onSend) {
      const raw = String(request.params?.[0]);
      const fate = await this.onSend(raw, this);
      if (fate === 'drop') return this.acceptAndLose(request, raw);
      if (fate === 'lose-answer') {
        await this.handle(request);
        this.answersLost.push(raw);
        return LOST;
      }
      if (fate === 'forward-and-mine') {
        const answer = await this.handle(request);
        await this.rpc('evm_mine');
        await this.rpc('evm_setAutomine', [true]);
        return answer;
      }
    }
    return this.handle(request);
  }

  /**
   * A node that accepts a transaction and then loses it (evicted from its mempool, or the node
   * behind a load balancer restarted): the client gets the hash and the transaction never mines.
   * With automine off it enters EDR's mempool for real and is then dropped from it.
   */
  private async acceptAndLose(request: JsonRpcRequest, raw: string): Promise<Record<string, unknown>> {
    await this.rpc('evm_setAutomine', [false]);
    try {
      const answer = await this.handle(request);
      if ('result' in answer) await this.rpc('hardhat_dropTransaction', [answer.result]);
      this.dropped.push(raw);
      return answer;
    } finally {
      await this.rpc('evm_setAutomine', [true]);
    }
  }

  private async handle(request: JsonRpcRequest): Promise<Record<string, unknown>> {
    // JSON-RPC allows leaving params out (viem does for eth_chainId); EDR wants the field.
    const response = await this.provider.handleRequest(JSON.stringify({ params: [], ...request }));
    const data = (typeof response.data === 'string' ? JSON.parse(response.data) : response.data) as Record<
      string,
      unknown
    >;
    return { jsonrpc: '2.0', id: request.id, ...data };
  }
}
