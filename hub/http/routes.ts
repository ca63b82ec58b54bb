// The routes of the HTTP API, one line each, and the parsing of request bodies. Handlers return
// views (decimal strings for money) or throw ApiError.

import { isCurrency, isExponent, parseAmount as parseDecimal, ISO_CURRENCY_PATTERN } from '../../protocol/index.js';
import { ApiError } from '../base/api-errors.js';
import type { EnrolRequest } from '../core/hub-core.js';
import type { RequestContext, Route } from './route.js';
import { WEBHOOK_ROUTES } from './webhook-routes.js';

const HEX64 = '([0-9a-fA-F]{64})';
const ID = '([0-9a-fA-F]{8,64})';
const EPOCH = '(\\d{1,19})';

/** A u64 given as a decimal string or a safe integer number. */
export function parseAmount(value: unknown, field: string, min = 0n): bigint {
  let n: bigint | undefined;
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) n = BigInt(value);
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  if (n === undefined || n < min || n > (1n << 64n) - 1n) {
    throw new ApiError('API_INVALID', `${field} must be an integer ${min}..2^64-1 (decimal string or number)`);
  }
  return n;
}

/** The exponent a channel gets when a currency is named without one: micro-units (EUR 0.000001). */
export const DEFAULT_EXPONENT = 6;

/**
 * A channel's currency [P-3.1]: an ISO 4217 code this runtime knows (Intl's list, so a typo such as
 * `ERU` is refused rather than opened as a channel nobody can bill), or a CAIP-19 token id.
 */
export function parseCurrency(value: unknown, field: string): string {
  if (!isCurrency(value))
    throw new ApiError(
      'API_INVALID',
      `${field} must be an ISO 4217 code (EUR) or a CAIP-19 asset id (eip155:1/erc20:0x...), at most 128 bytes`,
    );
  if (ISO_CURRENCY_PATTERN.test(value) && !Intl.supportedValuesOf('currency').includes(value))
    throw new ApiError('API_INVALID', `${field}: ${value} is not an ISO 4217 currency code`);
  return value;
}

/**
 * An amount of money: an integer is minor units; a number with a point ("0.0003") is an amount of
 * the channel's currency, converted exactly at its exponent and refused when it is not a whole
 * number of minor units. A decimal needs a currency: without one, minor units have no size.
 */
export function parseMoney(value: unknown, field: string, exponent: number | undefined, min = 0n): bigint {
  if (typeof value !== 'string' || !value.includes('.')) return parseAmount(value, field, min);
  if (exponent === undefined)
    throw new ApiError('API_INVALID', `${field}: a decimal amount needs a currency (else give minor units)`);
  const r = parseDecimal(value, exponent);
  if (!r.ok) throw new ApiError('API_INVALID', `${field}: ${r.detail ?? r.code}`);
  if (r.value < min) throw new ApiError('API_INVALID', `${field} must be at least ${min} minor units`);
  return r.value;
}

/** Currency and exponent of an enrolment: both absent (a version-1 channel) or a currency. */
function parseTerms(o: Record<string, unknown>, where: string): { currency: string; exponent: number } | undefined {
  if (o.currency === undefined || o.currency === null) {
    if (o.exponent !== undefined && o.exponent !== null)
      throw new ApiError('API_INVALID', `${where}.exponent needs a currency`);
    return undefined;
  }
  const currency = parseCurrency(o.currency, `${where}.currency`);
  const raw = o.exponent ?? DEFAULT_EXPONENT;
  const exponent = typeof raw === 'string' && /^\d{1,2}$/.test(raw) ? Number(raw) : raw;
  if (!isExponent(exponent)) throw new ApiError('API_INVALID', `${where}.exponent must be an integer 0..18`);
  return { currency, exponent };
}

/** Expiry as an ISO date string (`expires`) or milliseconds (`expiresAtMs`); absent = never. */
function parseExpiry(o: Record<string, unknown>, where: string): bigint | undefined {
  if (o.expiresAtMs !== undefined && o.expiresAtMs !== null) return parseAmount(o.expiresAtMs, `${where}.expiresAtMs`);
  if (o.expires === undefined || o.expires === null) return undefined;
  const ms = typeof o.expires === 'string' ? Date.parse(o.expires) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) throw new ApiError('API_INVALID', `${where}.expires must be an ISO 8601 date`);
  return BigInt(ms);
}

export function parseEnrolBody(body: unknown): EnrolRequest[] {
  const list = Array.isArray(body)
    ? body
    : body && typeof body === 'object' && Array.isArray((body as { devices?: unknown }).devices)
      ? (body as { devices: unknown[] }).devices
      : [body];
  if (list.length === 0 || list.length > 100_000) throw new ApiError('API_INVALID', 'send 1..100000 devices');
  return list.map((item, i) => {
    const where = `devices[${i}]`;
    if (!item || typeof item !== 'object') throw new ApiError('API_INVALID', `${where} must be an object`);
    const o = item as Record<string, unknown>;
    if (typeof o.publicKey !== 'string')
      throw new ApiError('API_INVALID', `${where}.publicKey must be 64 hex characters`);
    if (typeof o.unit !== 'string') throw new ApiError('API_INVALID', `${where}.unit is required`);
    const expiresAtMs = parseExpiry(o, where);
    const terms = parseTerms(o, where);
    return {
      publicKey: o.publicKey,
      unit: o.unit,
      ...terms,
      pricePerUnit: parseMoney(o.pricePerUnit ?? o.price, `${where}.pricePerUnit`, terms?.exponent),
      capacity: parseMoney(o.capacity, `${where}.capacity`, terms?.exponent, 1n),
      ...(expiresAtMs !== undefined ? { expiresAtMs } : {}),
    };
  });
}

/** An epoch number from the path: SQLite keeps it in a signed 64-bit integer, so larger is a
 *  client error (400), not a database error. */
export function epochParam(ctx: RequestContext): bigint {
  const epoch = BigInt(ctx.params[0]!);
  if (epoch > (1n << 63n) - 1n) throw new ApiError('API_INVALID', 'epoch out of range');
  return epoch;
}

export const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/healthz$/, admin: false, handler: () => ({ json: { ok: true } }) },
  {
    method: 'GET',
    pattern: /^\/metrics$/,
    admin: false,
    handler: async (ctx) => ({
      text: await ctx.metrics.registry.metrics(),
      contentType: ctx.metrics.registry.contentType,
    }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/hub$/,
    admin: false,
    handler: (ctx) => ({ json: { publicKey: ctx.core.identity.publicKeyHex, network: ctx.core.identity.network } }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/stats$/,
    admin: false,
    handler: async (ctx) => ({ json: await ctx.core.stats() }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/devices$/,
    admin: false,
    handler: async (ctx) => ({ json: { devices: await ctx.core.fleetDevices() } }),
  },
  {
    method: 'POST',
    pattern: /^\/api\/devices$/,
    admin: true,
    handler: async (ctx) => {
      const requests = parseEnrolBody(ctx.body);
      const enrolled = await ctx.core.enrol(requests);
      // A single object in, a single result out; an array (or {devices}) in, an array out.
      const single = !Array.isArray(ctx.body) && !(ctx.body && typeof ctx.body === 'object' && 'devices' in ctx.body);
      return { status: 201, json: single ? enrolled[0] : { enrolled } };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/devices/${HEX64}$`),
    admin: false,
    handler: async (ctx) => ({ json: await ctx.core.fleetDevice(ctx.params[0]!) }),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/devices/${HEX64}/revoke$`),
    admin: true,
    handler: async (ctx) => ({ json: await ctx.core.revoke(ctx.params[0]!) }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/channels$/,
    admin: false,
    handler: async (ctx) => ({ json: { channels: await ctx.core.fleetChannels() } }),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/channels/${ID}$`),
    admin: false,
    handler: async (ctx) => ({ json: await ctx.core.showChannel(ctx.params[0]!) }),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/channels/${ID}/topup$`),
    admin: true,
    handler: async (ctx) => {
      const amount = parseAmount((ctx.body as { amount?: unknown } | undefined)?.amount, 'amount', 1n);
      return { json: await ctx.core.topup(ctx.params[0]!, amount) };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/channels/${ID}/close$`),
    admin: true,
    handler: async (ctx) => ({ json: await ctx.core.closeChannel(ctx.params[0]!) }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/settlements$/,
    admin: false,
    handler: async (ctx) => ({ json: { epochs: await ctx.core.listEpochs() } }),
  },
  {
    method: 'POST',
    pattern: /^\/api\/settlements$/,
    admin: true,
    handler: async (ctx) => ({ status: 201, json: await ctx.core.settle() }),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/settlements/${EPOCH}$`),
    admin: false,
    handler: async (ctx) => ({ json: await ctx.core.showEpoch(epochParam(ctx)) }),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/settlements/${EPOCH}/bundle$`),
    admin: false,
    handler: async (ctx) => {
      const channels = ctx.query.get('channel');
      return { json: await ctx.core.bundle(epochParam(ctx), channels ? channels.toLowerCase().split(',') : undefined) };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/settlements/${EPOCH}/csv$`),
    admin: false,
    handler: async (ctx) => ({ text: await ctx.core.csv(epochParam(ctx)), contentType: 'text/csv; charset=utf-8' }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/rejections$/,
    admin: false,
    handler: async (ctx) => {
      const q = ctx.query;
      const limit = q.get('limit');
      return {
        json: await ctx.core.rejections({
          ...(limit && /^\d{1,5}$/.test(limit) ? { limit: Number(limit) } : {}),
          ...(q.get('reason') ? { reason: q.get('reason')! } : {}),
          ...(q.get('device') ? { device: q.get('device')! } : {}),
          ...(q.get('channel') ? { channel: q.get('channel')! } : {}),
        }),
      };
    },
  },
  ...WEBHOOK_ROUTES,
];
