/// <reference lib="dom" />
// Verify a bundle: drop (or choose) a settlement bundle file and the browser checks it with the
// code behind tally-verify, in a worker (verify/worker.ts). The file is read locally and never
// sent anywhere: this page makes no request.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { BundleVerdict } from '../../../protocol/index.js';
import { groupDigits, short, when } from '../format.js';
import type { VerifyRequest, VerifyResponse } from '../verify/messages.js';

type Outcome =
  | { state: 'idle' }
  | { state: 'checking'; name: string }
  | { state: 'done'; name: string; verdict: BundleVerdict }
  | { state: 'unreadable'; name: string; message: string };

const HUB_KEY = /^[0-9a-fA-F]{64}$/;

function check(file: File, hubKey: string): Promise<VerifyResponse> {
  return file.text().then(
    (text) =>
      new Promise<VerifyResponse>((resolve) => {
        const worker = new Worker('/assets/verify-worker.js');
        worker.onmessage = (e: MessageEvent<VerifyResponse>) => {
          worker.terminate();
          resolve(e.data);
        };
        worker.onerror = (e) => {
          worker.terminate();
          resolve({ unreadable: e.message || 'the verifier failed to load' });
        };
        worker.postMessage({ text, hubKey } satisfies VerifyRequest);
      }),
    // A file the browser cannot read (removed, no permission) is an answer too, not a page stuck
    // at "checking".
    (err: unknown) => ({ unreadable: `the file could not be read: ${(err as Error).message ?? String(err)}` }),
  );
}

function Result(props: { outcome: Outcome }) {
  const o = props.outcome;
  if (o.state === 'idle') return null;
  if (o.state === 'checking') return html`<p id="verify-result" class="muted">checking ${o.name}…</p>`;
  if (o.state === 'unreadable')
    return html`<p id="verify-result" class="error" data-verdict="unreadable">
      ✗ ${o.name} is not a readable bundle: ${o.message}
    </p>`;
  const v = o.verdict;
  if (!v.ok)
    return html`<section id="verify-result" class="panel" data-verdict="invalid">
      <p class="error verdict">✗ ${o.name} is INVALID: ${v.reasons.length} problem(s)</p>
      <ul class="reasons">
        ${v.reasons.map(
          (r) =>
            html`<li>
              <code>${r.code}</code>${r.channelId ? html` <code>${short(r.channelId, 16)}</code>` : null}: ${r.detail}
            </li>`,
        )}
      </ul>
    </section>`;
  const s = v.summary;
  return html`<section id="verify-result" class="panel" data-verdict="valid">
    <p class="success verdict">
      ✓ ${o.name} is valid: epoch ${String(s.epoch)} of ${s.network}, closed ${when(String(s.closedAtMs))}
    </p>
    <p>
      ${`${s.channels.length} of ${s.entryCount} entries${s.complete ? ' (complete)' : ''}, `}
      ${`total delta ${groupDigits(String(s.totalDeltaAmount))} minor units`}
    </p>
    <p>hub <code>${s.hubKey}</code></p>
    <p>root <code>${s.root}</code></p>
    <table class="list">
      <tr>
        <th>channel</th>
        <th>seq</th>
        <th class="num">units</th>
        <th class="num">amount (minor units)</th>
        <th class="num">cumulative</th>
      </tr>
      ${s.channels.map(
        (c) =>
          html`<tr class="verified-channel">
            <td><code title=${c.channelId}>${short(c.channelId, 16)}</code></td>
            <td>${String(c.fromSeq)}..${String(c.toSeq)}</td>
            <td class="num">${groupDigits(String(c.deltaUnits))} ${c.unit}</td>
            <td class="num">${groupDigits(String(c.deltaAmount))}</td>
            <td class="num">${groupDigits(String(c.cumAmount))}</td>
          </tr>`,
      )}
    </table>
  </section>`;
}

export function VerifyPage() {
  const [outcome, setOutcome] = useState<Outcome>({ state: 'idle' });
  const [hubKey, setHubKey] = useState('');
  const [over, setOver] = useState(false);
  const keyProblem = hubKey !== '' && !HUB_KEY.test(hubKey);

  const take = (file: File | undefined) => {
    if (file === undefined || keyProblem) return;
    setOutcome({ state: 'checking', name: file.name });
    check(file, hubKey).then((r) =>
      setOutcome(
        'verdict' in r
          ? { state: 'done', name: file.name, verdict: r.verdict }
          : { state: 'unreadable', name: file.name, message: r.unreadable },
      ),
    );
  };

  return html`
    <h1>Verify a bundle</h1>
    <p class="muted">
      ${'Checks a settlement bundle (from '}<code>tally-hub export</code>${' or the Settlements page) with the same '}
      ${'code as '}<code>tally-verify</code>${': signatures, Merkle proofs and totals. '}
      ${'The file is read by this browser and never uploaded.'}
    </p>
    <label class="hub-key"
      >Hub key (optional): also require that this key signed the epoch
      <input
        id="hub-key"
        size="66"
        placeholder="64 hex characters"
        value=${hubKey}
        onInput=${(e: Event) => setHubKey((e.target as HTMLInputElement).value.trim())}
      />
    </label>
    ${keyProblem ? html`<p class="error">The hub key must be 64 hex characters.</p>` : null}
    <div
      id="drop-zone"
      class=${`drop-zone ${over ? 'over' : ''}`}
      onDragOver=${(e: DragEvent) => (e.preventDefault(), setOver(true))}
      onDragLeave=${() => setOver(false)}
      onDrop=${(e: DragEvent) => {
        e.preventDefault();
        setOver(false);
        take(e.dataTransfer?.files[0]);
      }}
    >
      <p>Drop a bundle file here, or</p>
      <input
        id="bundle-file"
        type="file"
        accept=".json,application/json"
        onChange=${(e: Event) => take((e.target as HTMLInputElement).files?.[0])}
      />
    </div>
    <${Result} outcome=${outcome} />
  `;
}
