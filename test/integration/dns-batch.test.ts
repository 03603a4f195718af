import { describe, it, expect, inject, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { createZone, sans, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { startDnsCountProxy } from '../support/dns-count-proxy.js';
import { startHttpFaultProxy } from '../support/http-fault-proxy.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import type { TestEnv } from '../support/env-types.js';
import { deregisterService, envArgs, eventually, fileOnce, registerService, startWhisper, uniq, cleanupAfterAll, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const shared = inject('env');
const { running, dirs } = cleanupAfterAll();
const ORDERS = 20;

// A Pebble of its own: twenty orders of one account at once can hang Pebble's store (letsencrypt/pebble#554), and
// with it every other test of the run.
let pebble: Pebble | undefined;
let env: TestEnv = shared;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-batch-pebble-'));
  dirs.push(dir);
  pebble = await startPebble({ dir, name: 'pebble-batch', dnsServer: shared.dnsFront.addr });
  env = { ...shared, pebble: { ...shared.pebble, directoryUrl: pebble.directoryUrl, managementUrl: pebble.managementUrl, tlsCaFile: pebble.tlsCaFile } };
});
afterAll(async () => {
  await pebble?.stop();
});

// The daemons stop before their services go (a daemon left running would order the next test's too).
const services: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
  await Promise.all(services.splice(0).map((s) => deregisterService(env, s)));
});

/** Registers `count` single-host services in `zone`; their host names. */
async function register(zone: string, prefix: string, count = ORDERS): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}-${uniq()}`);
  services.push(...names);
  await Promise.all(names.map((n) => registerService(env, n, [`dns=${zone}`, 'ssl=offloading'])));
  return names.map((n) => `${n}.${zone}`);
}

async function txtAt(addr: string, name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([addr]);
  try {
    return (await r.resolveTxt(name)).map((c) => c.join(''));
  } catch {
    return [];
  }
}

async function folder(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `whisper-${prefix}-`));
  dirs.push(dir);
  return dir;
}

async function allIssued(certs: string, hosts: readonly string[]): Promise<void> {
  for (const host of hosts) {
    const pem = await eventually(`${host}.pem`, () => fileOnce(join(certs, `${host}.pem`)), 120_000);
    expect(sans(await verifyAgainstPebble(env, pem))).toEqual([host]);
  }
}

function start(args: string[]): WhisperProcess {
  const w = startWhisper(args);
  running.push(w);
  return w;
}

async function rfc2136Args(dir: string, server: string): Promise<string[]> {
  const secretFile = join(dir, 'tsig.secret');
  await writeFile(secretFile, env.bind.tsig.secret, { mode: 0o600 });
  return ['--dns-provider', 'rfc2136', '--rfc2136-server', server, '--rfc2136-tsig-name', env.bind.tsig.name,
    '--rfc2136-tsig-algorithm', env.bind.tsig.algorithm, '--rfc2136-tsig-secret-file', secretFile,
    '--allow-domain', env.bind.zone, '--concurrency', String(ORDERS), '--notify', `whisper-tests/${uniq()}`];
}

describe('one DNS change per zone for a burst of orders', () => {
  it(`rfc2136: ${ORDERS} orders in one zone share a few UPDATE messages to BIND, and all are issued`, async () => {
    const dir = await folder('batch-rfc2136');
    const proxy = await startDnsCountProxy(env.bind.addr);
    try {
      // Registered before the daemon starts: its first plan is one burst.
      const hosts = await register(env.bind.zone, 'rb');
      const certs = join(dir, 'certs');
      const w = start([certs, ...envArgs(env), ...(await rfc2136Args(dir, proxy.addr))]);
      await allIssued(certs, hosts);
      for (const host of hosts) {
        await eventually(`no TXT record left at ${host}`, async () => ((await txtAt(env.bind.addr, `_acme-challenge.${host}`)).length === 0 ? true : undefined));
      }
      const updates = proxy.seen.filter((s) => s.opcode === 5);
      console.log(`rfc2136: ${ORDERS} orders, ${updates.length} UPDATE messages (records in each: ${updates.map((u) => u.records).join(', ')})`);
      // One order at a time would take 2 × ORDERS: one UPDATE to publish and one to remove per order.
      expect(updates.length).toBeLessThanOrEqual(8);
      expect(updates.reduce((n, u) => n + u.records, 0)).toBe(2 * ORDERS);
      expect(await w.stop()).toBe(0);
      expect(await fileOnce(join(certs, '.whisper-challenges.json'))).toBeUndefined();
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('rfc2136: a failing UPDATE fails only the orders whose records it held; they retry and are issued', async () => {
    const dir = await folder('batch-fail');
    const proxy = await startDnsCountProxy(env.bind.addr);
    try {
      proxy.failUpdates = 1;
      const first = await register(env.bind.zone, 'rf', ORDERS / 2);
      const certs = join(dir, 'certs');
      const w = start([certs, ...envArgs(env), ...(await rfc2136Args(dir, proxy.addr)), '--retry-base', '1']);
      const failed = await eventually('the failed UPDATE', () => proxy.seen.find((s) => s.failed));
      // The second half comes while the first retries: its records go in UPDATEs of their own.
      const second = await register(env.bind.zone, 'rs', ORDERS / 2);
      await allIssued(certs, [...first, ...second]);

      const failedJobs = w.logs.filter((l) => String(l.msg).startsWith('certificate job failed'));
      // One order per record of the failed UPDATE (single-host certificates), of the first half only.
      expect(failedJobs).toHaveLength(failed.records);
      expect(failedJobs.every((l) => /SERVFAIL/.test(String(l.msg)) && first.includes(String(l.id)))).toBe(true);
      const ordered = w.logs.filter((l) => l.msg === 'ordering certificate').map((l) => String(l.cert));
      for (const host of second) expect(ordered.filter((c) => c === host)).toHaveLength(1);
      expect(ordered).toHaveLength(ORDERS + failed.records);
      expect(await w.stop()).toBe(0);
      expect(await fileOnce(join(certs, '.whisper-challenges.json'))).toBeUndefined();
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it(`route53: ${ORDERS} orders in one zone make a few ChangeResourceRecordSets calls, and all are issued`, async () => {
    const zone = `batch${uniq()}.whisper.test`;
    const zoneId = await createZone(env, zone);
    const dir = await folder('batch-route53');
    const proxy = await startHttpFaultProxy(env.route53.endpoint);
    try {
      const hosts = await register(zone, 'r53-');
      const certs = join(dir, 'certs');
      const w = start([certs, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', proxy.url,
        '--allow-domain', zone, '--concurrency', String(ORDERS), '--notify', `whisper-tests/${zone}`]);
      await allIssued(certs, hosts);
      await eventually('no challenge TXT record left', async () =>
        [...(await zoneTxt(env, zoneId)).keys()].some((n) => n.startsWith('_acme-challenge')) ? undefined : true,
      );
      const changes = proxy.seen.filter((s) => s.method === 'POST' && s.path.includes(`/hostedzone/${zoneId}/rrset`));
      console.log(`route53: ${ORDERS} orders, ${changes.length} ChangeResourceRecordSets calls, ${proxy.seen.length} Route53 calls in all`);
      // One order at a time would take 2 × ORDERS: one change to publish and one to remove per order.
      expect(changes.length).toBeLessThanOrEqual(6);
      expect(await w.stop()).toBe(0);
      expect(await fileOnce(join(certs, '.whisper-challenges.json'))).toBeUndefined();
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
