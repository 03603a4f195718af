import { describe, it, expect, inject, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createZone, sans, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { startRoute53Proxy } from '../support/route53-proxy.js';
import type { TestEnv } from '../support/env-types.js';
import { cleanupAfterAll, deregisterService, envArgs, eventually, fileOnce, registerService, startWhisper, uniq } from '../support/whisper.js';
import '../support/env-types.js';

const shared = inject('env');
const { running, dirs } = cleanupAfterAll();
const ORDERS = 20;
/** How long each change stays PENDING at the proxy (real Route53: up to about 60 s). */
const DELAY_MS = 5000;

// A Pebble of its own, as in dns-batch.test.ts: twenty orders of one account at once can hang Pebble's store
// (letsencrypt/pebble#554), and with it every other test of the run.
let pebble: Pebble | undefined;
let env: TestEnv = shared;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-pending-pebble-'));
  dirs.push(dir);
  pebble = await startPebble({ dir, name: 'pebble-pending', dnsServer: shared.dnsFront.addr });
  env = { ...shared, pebble: { ...shared.pebble, directoryUrl: pebble.directoryUrl, managementUrl: pebble.managementUrl, tlsCaFile: pebble.tlsCaFile } };
});
afterAll(async () => {
  await pebble?.stop();
});

const services: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
  await Promise.all(services.splice(0).map((s) => deregisterService(env, s)));
});

describe('Route53 changes that stay PENDING for a while', () => {
  it(`${ORDERS} orders in one zone share one wait: few changes, one GetChange loop per change`, async () => {
    const zone = `pending${uniq()}.whisper.test`;
    const zoneId = await createZone(env, zone);
    const dir = await mkdtemp(join(tmpdir(), 'whisper-pending-'));
    dirs.push(dir);
    const proxy = await startRoute53Proxy(env.route53.endpoint, { pendingMs: DELAY_MS });
    try {
      // Registered before the daemon starts: its first plan is one burst.
      const names = Array.from({ length: ORDERS }, (_, i) => `rp${i}-${uniq()}`);
      services.push(...names);
      await Promise.all(names.map((n) => registerService(env, n, [`dns=${zone}`, 'ssl=offloading'])));
      const hosts = names.map((n) => `${n}.${zone}`);
      const certs = join(dir, 'certs');
      const t0 = Date.now();
      const w = startWhisper([certs, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', proxy.url,
        '--allow-domain', zone, '--concurrency', String(ORDERS), '--notify', `whisper-tests/${zone}`]);
      running.push(w);
      const pems: string[] = [];
      for (const host of hosts) pems.push(await eventually(`${host}.pem`, () => fileOnce(join(certs, `${host}.pem`)), 120_000));
      const elapsed = Date.now() - t0;
      for (const [i, pem] of pems.entries()) expect(sans(await verifyAgainstPebble(env, pem))).toEqual([hosts[i]]);
      // The clean-up is journaled and coalesced too; it ends with its own change held PENDING.
      await eventually('no challenge TXT record left', async () =>
        [...(await zoneTxt(env, zoneId)).keys()].some((n) => n.startsWith('_acme-challenge')) ? undefined : true,
      );
      await eventually('the clean-up journal emptied', async () => ((await fileOnce(join(certs, '.whisper-challenges.json'))) === undefined ? true : undefined), 60_000);
      expect(await w.stop()).toBe(0);

      const count = proxy.count();
      const polls = new Map<string, number>();
      for (const c of proxy.calls.filter((c) => c.action === 'GetChange')) {
        const id = (c.url.split('?')[0] ?? '').split('/').pop() ?? '';
        polls.set(id, (polls.get(id) ?? 0) + 1);
      }
      console.log(`route53 PENDING ${DELAY_MS} ms: ${ORDERS} certificates in ${elapsed} ms; calls ${JSON.stringify(count)}; ` +
        `changes ${proxy.submitted.size}; GetChange per change ${JSON.stringify([...polls.values()])}`);
      // One order at a time would wait ORDERS × DELAY_MS; all share the wait of one change (plus the CA's work).
      expect(elapsed).toBeLessThan(3 * DELAY_MS + 10_000);
      // Without coalescing: one change to publish and one to remove per order (2 × ORDERS).
      expect(count.ChangeResourceRecordSets ?? 0).toBeLessThanOrEqual(4);
      // Every GetChange is of a change the proxy holds, and the polls of one change are one loop: at 0.5 s growing
      // ×1.5 (whisper-ts' default) about 5 in 5 s; one loop per order would make ORDERS times as many.
      expect([...polls.keys()].every((id) => proxy.submitted.has(id))).toBe(true);
      for (const n of polls.values()) expect(n).toBeLessThanOrEqual(8);
      expect(count.GetChange ?? 0).toBeLessThanOrEqual(8 * proxy.submitted.size);
      expect(count.GetChange ?? 0).toBeLessThan(ORDERS);
    } finally {
      await proxy.close();
    }
  }, 180_000);
  it('orders that arrive while a change is PENDING are sent at once, not after it is INSYNC', async () => {
    const delayMs = 15_000;
    const zone = `pendnext${uniq()}.whisper.test`;
    await createZone(env, zone);
    const dir = await mkdtemp(join(tmpdir(), 'whisper-pending-next-'));
    dirs.push(dir);
    const proxy = await startRoute53Proxy(env.route53.endpoint, { pendingMs: delayMs });
    try {
      const certs = join(dir, 'certs');
      const w = startWhisper([certs, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', proxy.url,
        '--allow-domain', zone, '--notify', `whisper-tests/${zone}`]);
      running.push(w);
      const first = Array.from({ length: 4 }, (_, i) => `pa${i}-${uniq()}`);
      const second = Array.from({ length: 4 }, (_, i) => `pb${i}-${uniq()}`);
      services.push(...first, ...second);
      await Promise.all(first.map((n) => registerService(env, n, [`dns=${zone}`, 'ssl=offloading'])));
      const changes = () => proxy.calls.filter((c) => c.action === 'ChangeResourceRecordSets');
      await eventually('the first change', () => (changes().length >= 1 ? true : undefined), 60_000);
      const firstAt = changes()[0]!.at;
      // While the first change is PENDING: four more orders in the same zone.
      await Promise.all(second.map((n) => registerService(env, n, [`dns=${zone}`, 'ssl=offloading'])));
      const t0 = Date.now();
      for (const n of [...first, ...second]) await eventually(`${n}.pem`, () => fileOnce(join(certs, `${n}.${zone}.pem`)), 90_000);
      const elapsed = Date.now() - t0;
      const presents = changes().filter((c) => c.at < Date.now());
      const secondAt = presents[1]?.at;
      console.log(`route53 PENDING ${delayMs} ms: second change ${secondAt === undefined ? '-' : secondAt - firstAt} ms after the first; ` +
        `all 8 files ${elapsed} ms after the second registrations`);
      expect(secondAt).toBeDefined();
      // Sent while the first was still PENDING: waiting for its INSYNC first would put it at least delayMs later.
      expect(secondAt! - firstAt).toBeLessThan(delayMs - 2000);
      // So the second group pays one wait (and a gathering window of 2 s), not two.
      expect(elapsed).toBeLessThan(delayMs + 8000);
      expect(await w.stop()).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
