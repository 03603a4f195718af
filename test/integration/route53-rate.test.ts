import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRoute53Provider } from '../../src/dns/route53.js';
import { createZone, zoneTxt } from '../support/certs.js';
import { maxInWindow, startRoute53Proxy, type Route53Call } from '../support/route53-proxy.js';
import { cleanupAfterAll, envArgs, eventually, fileOnce, registerService, startWhisper, uniq } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const zone = env.route53.zone;
const tag = randomBytes(4).toString('hex');
const { running, dirs } = cleanupAfterAll();

let dir: string;
let credentialsFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-r53-rate-'));
  credentialsFile = join(dir, 'credentials');
  await writeFile(credentialsFile, `[${zone}]\naws_access_key_id = AKIDTEST\naws_secret_access_key = secret\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Listings of the account's zones: first pages only (moto pages at 100 zones). */
const listings = (calls: readonly Route53Call[]) =>
  calls.filter((c) => c.action === 'ListHostedZones' && !/[?&]marker=/i.test(c.url)).length;

/**
 * A one-line summary for the test log: calls by action, the busiest second, the span, and the shortest times from
 * a call to the 5th after it (at 5/s, under 1000 ms would put 6 calls into one second).
 */
function summary(what: string, calls: readonly Route53Call[]): string {
  const by: Record<string, number> = {};
  for (const c of calls) by[c.action] = (by[c.action] ?? 0) + 1;
  const times = calls.map((c) => c.at);
  const span = times.length > 1 ? Math.max(...times) - Math.min(...times) : 0;
  const sorted = [...times].sort((x, y) => x - y);
  const spans = sorted.slice(5).map((t, i) => t - sorted[i]!).sort((x, y) => x - y).slice(0, 8);
  return `${what}: ${calls.length} calls ${JSON.stringify(by)}, max ${maxInWindow(times)} in any 1 s, over ${span} ms; shortest call-to-5th-after ${spans.slice(0, 3).join(", ")} ms`;
}

function provider(endpoint: string, requestsPerSecond: number) {
  return createRoute53Provider({
    endpoint,
    region: env.route53.region,
    credentialsFile,
    configFile: join(dir, 'config'),
    pollIntervalMs: 50,
    requestsPerSecond,
  });
}

describe('Route53 request rate, counted at a proxy in front of moto', () => {
  it('10 concurrent orders in one zone: 1 zone listing, at most 5 calls in any second with 5/s', async () => {
    const proxy = await startRoute53Proxy(env.route53.endpoint);
    const r53 = provider(proxy.url, 5);
    try {
      const records = Array.from({ length: 10 }, (_, i) => ({ fqdn: `_acme-challenge.rate-${tag}-${i}.${zone}`, value: `v${i}-${tag}` }));
      await Promise.all(records.map((r) => r53.present([r])));
      await Promise.all(records.map((r) => r53.cleanUp([r])));
      console.log(summary('10 orders, --route53-rps 5', proxy.calls));
      expect(listings(proxy.calls)).toBe(1);
      expect(proxy.count().ListHostedZonesByName).toBeUndefined();
      expect(proxy.count().ChangeResourceRecordSets).toBe(20);
      expect(maxInWindow(proxy.calls.map((c) => c.at))).toBeLessThanOrEqual(5);
      const txt = await zoneTxt(env, env.route53.zoneId);
      expect([...txt.keys()].filter((n) => n.includes(`rate-${tag}`))).toEqual([]);
    } finally {
      await r53.close?.();
      await proxy.close();
    }
  });

  it('throttled requests back off and succeed; each is sent once by whisper-ts, none again by the SDK', async () => {
    // Every third request is refused with Route53's "Throttling: Rate exceeded".
    const proxy = await startRoute53Proxy(env.route53.endpoint, { throttle: (i) => i % 3 === 1 });
    const r53 = provider(proxy.url, 10);
    try {
      const records = Array.from({ length: 4 }, (_, i) => ({ fqdn: `_acme-challenge.busy-${tag}-${i}.${zone}`, value: `b${i}-${tag}` }));
      await Promise.all(records.map((r) => r53.present([r])));
      const txt = await zoneTxt(env, env.route53.zoneId);
      for (const r of records) expect(txt.get(r.fqdn)).toEqual([`"${r.value}"`]);
      await Promise.all(records.map((r) => r53.cleanUp([r])));
      console.log(summary('4 orders, every 3rd request throttled', proxy.calls));
      const served = proxy.calls.filter((c) => !c.throttled);
      expect(proxy.calls.filter((c) => c.throttled).length).toBeGreaterThan(0);
      // What was served is what the work needs, no more: one listing, per order one change to present, one to clean.
      expect(listings(served)).toBe(1);
      expect(served.filter((c) => c.action === 'ChangeResourceRecordSets')).toHaveLength(8);
    } finally {
      await r53.close?.();
      await proxy.close();
    }
  });
});

describe('the daemon with --route53-rps 5', () => {
  it('issues N certificates in one zone with 1 zone listing and at most 5 calls in any second', async () => {
    const certZone = `z${uniq()}.whisper.test`;
    const zoneId = await createZone(env, certZone);
    const base = await mkdtemp(join(tmpdir(), 'whisper-r53-rate-'));
    dirs.push(base);
    const folder = join(base, 'certs');
    const proxy = await startRoute53Proxy(env.route53.endpoint);
    try {
      const w = startWhisper([folder, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', proxy.url,
        '--route53-rps', '5', '--allow-domain', certZone, '--notify', `whisper-tests/${certZone}`]);
      running.push(w);
      const n = 6;
      const names = Array.from({ length: n }, (_, i) => `rate${i}-${uniq()}`);
      for (const name of names) await registerService(env, name, [`dns=${certZone}`, 'ssl=offloading']);
      for (const name of names) await eventually(name, () => fileOnce(join(folder, `${name}.${certZone}.pem`)), 120_000);
      await eventually('the challenge records to be cleaned up', async () => {
        const left = [...(await zoneTxt(env, zoneId)).keys()].filter((k) => k.startsWith('_acme-challenge'));
        return left.length === 0 ? true : undefined;
      });
      expect(await w.stop()).toBe(0);
      console.log(summary(`daemon, ${n} certificates, --route53-rps 5`, proxy.calls));
      expect(listings(proxy.calls)).toBe(1);
      expect(proxy.count().ListHostedZonesByName).toBeUndefined();
      expect(maxInWindow(proxy.calls.map((c) => c.at))).toBeLessThanOrEqual(5);
    } finally {
      await proxy.close();
    }
  });
});
