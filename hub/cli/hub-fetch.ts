// The management commands' HTTP client for the running hub. Over https the hub's certificate is
// usually issued by the site's own CA (`tally-hub tls init`), which this machine's trust store
// does not know: instead of a CA, the client pins the SHA-256 fingerprint of the certificate the
// hub recorded in hub.json (inside the 0700 data directory), and checks it before a byte of the
// request, and so the admin token, is written.

import { request as httpsRequest } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';

export interface HubResponse {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

export interface HubRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** fetch() for http://, and for https:// with the certificate pinned by its SHA-256 fingerprint. */
export async function hubFetch(url: string, init: HubRequest, certSha256: string | undefined): Promise<HubResponse> {
  const u = new URL(url);
  if (u.protocol !== 'https:') {
    return fetch(url, {
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      ...(init.body !== undefined ? { body: init.body } : {}),
      ...(init.timeoutMs ? { signal: AbortSignal.timeout(init.timeoutMs) } : {}),
    });
  }
  if (!certSha256) throw new Error(`${u.origin}: hub.json names no certificate fingerprint to check`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    // Verification is the pin below, not a CA: rejectUnauthorized would refuse the site's own CA.
    const s = connect({ host, port: Number(u.port || 443), rejectUnauthorized: false });
    s.once('error', reject);
    s.once('secureConnect', () => {
      const seen = s.getPeerCertificate().fingerprint256;
      if (seen !== certSha256) {
        s.destroy();
        reject(new Error(`${u.origin}: the certificate ${seen} is not the one the hub recorded (${certSha256})`));
        return;
      }
      s.off('error', reject);
      resolve(s);
    });
  });
  return new Promise<HubResponse>((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: init.method ?? 'GET', headers: init.headers ?? {}, createConnection: () => socket },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ ok: status >= 200 && status < 300, status, text: async () => body });
        });
      },
    );
    req.on('error', reject);
    if (init.timeoutMs) req.setTimeout(init.timeoutMs, () => req.destroy(new Error('timeout')));
    req.end(init.body);
  });
}
