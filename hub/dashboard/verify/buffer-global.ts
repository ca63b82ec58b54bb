// protocol/ uses Node's Buffer for hex and base64; the browser build of the verifier injects this
// one (the `buffer` package, the same API) wherever `Buffer` appears.
export { Buffer } from 'buffer';
