// The public surface of protocol/ (docs/protocol-api.md). Everything outside protocol/ imports from
// here, never from a file inside it.

export * from './errors.js';
export * from './bytes.js';
export * from './hash.js';
export * from './crypto/index.js';
export * from './keys.js';

export * from './codec.js';
export { ByteReader, decodeFramed, runDecoder, type Frame } from './reader.js';
export { ByteWriter } from './writer.js';

export * from './money.js';
export * from './channel.js';
export * from './voucher.js';
export * from './segment.js';
export * from './verify-segment.js';
export * from './receipt.js';
export * from './control.js';
export * from './status.js';
export * from './auth.js';
export * from './topics.js';
export * from './partition.js';

export * from './merkle.js';
export * from './settlement.js';
export * from './bundle.js';
export * from './bundle-anchor.js';
export * from './verify-bundle.js';
export * from './verify-bundle-series.js';
