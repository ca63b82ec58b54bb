// No log line carries a secret: the hub's private key, its admin token and broker secret, a
// device's private key or its broker credential. A real hub logs at trace while a real
// tally-agent (the CLI, at trace, stderr a pipe so JSON by default) connects, streams and stops.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../protocol/index.js';
import { AGENT_CODES } from '../../agent/codes.js';
import { KEY_FILE } from '../../agent/keys.js';
import { captureLogs } from '../../support/log-capture.js';
import { waitFor } from '../../support/test-hub.js';
import { runCli, startCli } from '../agent/helpers/child-agent.js';
import { tempDir, testHub } from './helpers/hub.js';

// A broker credential is `v1.` and base64url [P-6.4]; nothing else the logs hold looks like one.
const CREDENTIAL = /v1\.[A-Za-z0-9_-]{16,}/;

describe('logs and secrets', () => {
  const tmp = tempDir();
  const agentDir = mkdtempSync(join(tmpdir(), 'tally-log-secrets-'));
  afterAll(() => {
    tmp.cleanup();
    rmSync(agentDir, { recursive: true, force: true });
  });

  it('hub and agent logs at trace hold no key, token or credential', async () => {
    const hubLogs = captureLogs('trace');
    const hub = await testHub(tmp.dir, { logger: hubLogs.logger });
    const init = runCli(['init', '--data', agentDir, '--json']);
    expect(init.status, init.stderr).toBe(0);
    const device = (JSON.parse(init.stdout) as { publicKey: string }).publicKey;
    await hub.core.enrol([{ publicKey: device, unit: 'Wh', pricePerUnit: 1n, capacity: 1_000_000n }]);

    const agent = startCli([
      'run',
      '--data',
      agentDir,
      '--broker',
      hub.mqttUrl,
      '--hub-key',
      hub.publicKeyHex,
      '--meter',
      'sim:200',
      '--batch-ms',
      '100',
      '--log-level',
      'trace',
    ]);
    try {
      await waitFor(() => agent.stderr().includes('CHANNEL_GRANTED'), 'the grant', 30_000);
      await waitFor(async () => BigInt((await hub.core.stats()).acceptedAmount) > 0n, 'units accepted', 30_000);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
      await hub.close();
    }

    const secrets = {
      'hub private key': toHex(hub.hubKey.secretKey),
      'admin token': hub.adminToken,
      'broker secret': hub.identity.brokerSecret,
      'device private key': readFileSync(join(agentDir, KEY_FILE), 'utf8').trim(),
    };
    const agentText = agent.stderr();
    for (const [what, secret] of Object.entries(secrets)) {
      expect(secret.length, what).toBeGreaterThan(8);
      expect(hubLogs.text().includes(secret), `${what} in the hub log`).toBe(false);
      expect(agentText.includes(secret), `${what} in the agent log`).toBe(false);
    }
    expect(hubLogs.text()).not.toMatch(CREDENTIAL);
    expect(agentText).not.toMatch(CREDENTIAL);

    // The agent's stderr is a pipe: JSON lines by default, each with a code of its table.
    const lines = agentText
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string; device: string });
    expect(lines.map((l) => l.code)).toEqual(expect.arrayContaining(['AGENT_STARTED', 'LINK_UP', 'AGENT_STOPPED']));
    for (const l of lines) {
      expect(AGENT_CODES, l.code).toHaveProperty(l.code);
      expect(l.device).toBe(device);
    }
    expect(hubLogs.lines.map((l) => l.code)).toContain('DEVICE_CONNECTED');
  });
});
