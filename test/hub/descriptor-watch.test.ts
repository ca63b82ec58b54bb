import { describe, expect, it } from 'vitest';
import { DescriptorWatch } from '../../hub/base/descriptors.js';
import { HubLog } from '../../hub/base/log-codes.js';
import { HubMetrics } from '../../hub/base/metrics.js';
import { captureLogs } from '../../support/log-capture.js';

const emfile = () => Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });

async function counted(m: HubMetrics) {
  return Object.fromEntries(
    (await m.descriptorErrors.get()).values.map((v) => [`${v.labels.code}/${v.labels.where}`, v.value]),
  );
}

describe('DescriptorWatch', () => {
  it('counts each EMFILE, logs the limit once a minute, and says when it is over', async () => {
    const metrics = new HubMetrics();
    const logs = captureLogs();
    const lines = logs.lines;
    let now = 0;
    let full = true;
    const watch = new DescriptorWatch(
      { soft: 1024, hard: 4096 },
      metrics,
      new HubLog(logs.logger),
      () => now,
      () => {
        if (full) throw emfile();
      },
    );
    watch.check();
    now += 1000;
    expect(watch.error('mqtt', emfile())).toBe(true);
    now += 1000;
    watch.check();
    expect(await counted(metrics)).toMatchObject({ 'EMFILE/probe': 2, 'EMFILE/mqtt': 1 });
    expect((await metrics.descriptorsExhausted.get()).values[0]!.value).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: 'HUB_OUT_OF_DESCRIPTORS', errno: 'EMFILE', where: 'probe' });
    expect(String(lines[0]!.detail)).toMatch(/limit of 1024 \(soft; hard 4096\)/);
    now += 60_000;
    watch.check();
    expect(lines).toHaveLength(2);
    full = false;
    now += 5000;
    watch.check();
    expect(lines[2]).toMatchObject({ level: 'info', code: 'HUB_DESCRIPTORS_AVAILABLE', seconds: 67 });
    expect((await metrics.descriptorsExhausted.get()).values[0]!.value).toBe(0);
  });

  it('leaves other errors alone', async () => {
    const metrics = new HubMetrics();
    const watch = new DescriptorWatch(undefined, metrics, new HubLog());
    expect(watch.error('http', Object.assign(new Error('boom'), { code: 'EADDRINUSE' }))).toBe(false);
    expect(await counted(metrics)).toEqual({ 'EMFILE/mqtt': 0 });
  });
});
