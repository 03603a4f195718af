import { describe, it, expect, inject } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createZone, verifyAgainstPebble } from '../support/certs.js';
import { freePort } from '../support/ports.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, cleanupAfterAll } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();

async function setup() {
  const zone = `m${uniq()}.whisper.test`;
  await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-metrics-'));
  dirs.push(base);
  const folder = join(base, 'certs');
  const args = [folder, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint,
    '--allow-domain', zone, '--notify', `whisper-tests/${zone}`];
  return { zone, folder, args };
}

/** The value of one series (`name{labels}`) in a Prometheus text exposition. */
function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('metrics and health endpoints (--listen)', () => {
  it('exposes the issued certificate, counters, queue, watcher, rate limits and health', async () => {
    const t = await setup();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const w = startWhisper([...t.args, '--listen', `127.0.0.1:${port}`]);
    running.push(w);
    const healthz = await eventually('/healthz', () => fetch(`${url}/healthz`).then((r) => r, () => undefined));
    expect(healthz.status).toBe(200);

    const name = `web-${uniq()}`;
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
    const id = `${name}.${t.zone}`;
    const file = join(t.folder, `${id}.pem`);
    const leaf = await verifyAgainstPebble(env, await eventually(file, () => fileOnce(file)));
    const notAfter = new Date(leaf.validTo).getTime() / 1000;

    const text = await eventually('metrics at rest', async () => {
      const body = await (await fetch(`${url}/metrics`)).text();
      const atRest = series(body, 'whisper_queue_depth') === 0 && series(body, `whisper_certificate_expiry_timestamp_seconds{cert="${id}"}`) !== undefined;
      return atRest ? body : undefined;
    });
    expect(series(text, `whisper_certificate_expiry_timestamp_seconds{cert="${id}"}`)).toBe(notAfter);
    expect(series(text, 'whisper_issuance_attempts_total')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'whisper_order_duration_seconds_count{result="success"}')).toBeGreaterThanOrEqual(1);
    expect(series(text, 'whisper_leader')).toBe(1);
    const watched = series(text, 'whisper_consul_last_success_timestamp_seconds')!;
    expect(Math.abs(Date.now() / 1000 - watched)).toBeLessThan(600);
    expect(text).toMatch(/^whisper_ratelimit_remaining\{bucket="newOrders",key="[^"]+"\} \d+$/m);
    expect(text).toMatch(/^whisper_ratelimit_remaining\{bucket="exactSet",key="[^"]+"\} \d+$/m);
    expect(text).toContain('process_resident_memory_bytes');

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(await w.stop()).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('exits with an error naming --listen when the address is taken', async () => {
    const t = await setup();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const w = startWhisper([...t.args, '--listen', `127.0.0.1:${port}`]);
      running.push(w);
      const code = await w.exited;
      expect(code).not.toBe(0);
      expect(w.output()).toContain(`--listen 127.0.0.1:${port}: cannot listen: the address is already in use`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
