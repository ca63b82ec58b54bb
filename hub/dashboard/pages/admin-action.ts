/// <reference lib="dom" />
// An admin action's button state: running, then the hub's answer or its refusal (e.g.
// API_UNAUTHORIZED without the token), shown where the operator clicked.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { describeError } from '../api.js';

export function useAction(): [(run: () => Promise<string>) => void, unknown] {
  const [state, setState] = useState<{ busy: boolean; ok?: string; error?: string }>({ busy: false });
  const start = (run: () => Promise<string>) => {
    setState({ busy: true });
    run().then(
      (ok) => setState({ busy: false, ok }),
      (e: unknown) => setState({ busy: false, error: describeError(e) }),
    );
  };
  const view = state.busy
    ? html`<span class="muted">working…</span>`
    : state.error
      ? html`<span class="error action-result">${state.error}</span>`
      : state.ok
        ? html`<span class="success action-result">${state.ok}</span>`
        : null;
  return [start, view];
}
