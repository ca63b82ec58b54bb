/// <reference lib="dom" />
// The bundle verifier in a Web Worker: protocol's verifyBundle [P-8.5], the very code behind
// tally-verify, run on a file the page read from disk. Nothing leaves the browser, and a large
// bundle (one Ed25519 check per channel) does not freeze the page.

import { fromHex, nobleBackend, verifyBundle } from '../../../protocol/index.js';
import type { VerifyRequest, VerifyResponse } from './messages.js';

// The worker's global scope, typed by hand: lib.webworker and lib.dom cannot share one program.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<VerifyRequest>) => void) | null;
  postMessage(message: VerifyResponse): void;
};

scope.onmessage = (event) => {
  const { text, hubKey } = event.data;
  let response: VerifyResponse;
  try {
    const doc = JSON.parse(text) as unknown;
    const key = hubKey ? fromHex(hubKey) : undefined;
    // node:crypto is not here: the pure-TypeScript backend gives the same verdicts [P-2.2].
    response = { verdict: verifyBundle(doc, { backend: nobleBackend, ...(key ? { hubKey: key } : {}) }) };
  } catch (err) {
    response = { unreadable: (err as Error).message };
  }
  scope.postMessage(response);
};
