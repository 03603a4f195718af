import { describe, it, expect, inject } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startPebble, pebbleRoot, type Pebble } from '../support/pebble.js';
import { startHaproxy, fetchServedCert } from '../support/haproxy.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { splitPem, verifyAgainstPebble } from '../support/certs.js';
import { eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import { daemonHarness } from '../support/harness.js';
import { ariCertId } from '../../src/acme/ari.js';
import '../support/env-types.js';

const env = inject('env');
const { cleanups, daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'r');

describe('renewal', () => {
  it('renews inside the ARI window with `replaces`, swaps the file atomically, and HAProxy serves the new serial', async () => {
    // A CA of our own whose certificates live 40 seconds: its ARI window is their whole lifetime.
    const pebble: Pebble = await startPebble({
      dir: env.runDir,
      name: `pebble-short-${uniq()}`,
      dnsServer: env.dnsFront.addr,
      config: { profiles: { default: { description: '40 seconds', validityPeriod: 40 } } },
    });
    cleanups.push(() => pebble.stop());
    const t = await folderAndZone();
    const w = daemon([t.folder, '--directory-url', pebble.directoryUrl, '--ca-bundle', pebble.tlsCaFile, ...dnsArgs(t.zone)]);
    const name = `app-${uniq()}`;
    const file = join(t.folder, `${name}.${t.zone}.pem`);
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
    const first = new X509Certificate(splitPem(await eventually('the first certificate', () => fileOnce(file))).certs[0]!.raw);
    expect(new Date(first.validTo).getTime() - new Date(first.validFrom).getTime()).toBeLessThanOrEqual(41_000);

    const haproxy = await startHaproxy(t.base, t.folder);
    cleanups.push(() => haproxy.stop());
    const root = await pebbleRoot(pebble);
    const chain = (pem: string) => root + splitPem(pem).certs.slice(1).map((c) => c.toString()).join('\n');
    expect((await fetchServedCert(haproxy.port, `${name}.${t.zone}`, chain(await readFile(file, 'utf8')))).serialNumber).toBe(first.serialNumber);

    // Read the file as HAProxy would, all the time: every read must be a whole key and chain.
    let reads = 0;
    const broken: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const pem = await readFile(file, 'utf8');
        const { keys, certs } = splitPem(pem);
        reads++;
        if (keys.length !== 1 || certs.length < 1 || !pem.trimEnd().endsWith('-----END CERTIFICATE-----')) broken.push(pem.slice(0, 80));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const renewed = await eventually('a renewal', async () => {
      const leaf = splitPem(await readFile(file, 'utf8')).certs[0]!;
      return leaf.serialNumber !== first.serialNumber ? leaf : undefined;
    }, 90_000);
    // A renewal drawn early in the window can land before many reads: keep reading a little longer (renewals go on).
    await eventually('more reads of the file', () => reads > 10 || undefined);
    watching = false;
    await watcher;
    expect(await w.stop()).toBe(0);
    expect(reads).toBeGreaterThan(10);
    expect(broken).toEqual([]);

    const order = w.logs.find((l) => l.msg === 'ordering certificate' && l.reason === 'renewal due');
    expect(order?.replaces).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    // Each renewal replaced the certificate of its own day: an ARI window (and its certID) is never reused.
    const replaced = w.logs.filter((l) => l.msg === 'ordering certificate' && l.replaces !== undefined).map((l) => String(l.replaces));
    expect(new Set(replaced).size).toBe(replaced.length);
    const saved = (JSON.parse(await readFile(join(t.folder, '.whisper-state.json'), 'utf8')) as { certs: Record<string, { ariCertId?: string }> }).certs[`${name}.${t.zone}`];
    if (saved?.ariCertId !== undefined) expect(saved.ariCertId).toBe(ariCertId(splitPem(await readFile(file, 'utf8')).certs[0]!.toString()));
    expect(pebble.process.logTail(500)).toMatch(/has been marked as replaced/);

    await haproxy.reload();
    const current = await verifyAgainstPebbleRoot(root, await readFile(file, 'utf8'));
    expect(current.serialNumber).not.toBe(first.serialNumber);
    expect(current.serialNumber === renewed.serialNumber || new Date(current.validFrom) >= new Date(renewed.validFrom)).toBe(true);
    expect((await fetchServedCert(haproxy.port, `${name}.${t.zone}`, chain(await readFile(file, 'utf8')))).serialNumber).toBe(current.serialNumber);
  });

  it('waits out a 429 rateLimited answer for its Retry-After, asking nothing else meanwhile, then succeeds', async () => {
    const proxy: FaultProxy = await startFaultProxy(env.runDir, { url: new URL(env.pebble.directoryUrl).origin, caFile: env.pebble.tlsCaFile });
    cleanups.push(() => proxy.close());
    let limited = 0;
    proxy.fault = (method, path) => {
      if (method === 'POST' && path.startsWith('/order-plz') && limited === 0) {
        limited++;
        return {
          status: 429,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '3' },
          body: JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders recently', status: 429 }),
        };
      }
      return undefined;
    };
    const t = await folderAndZone();
    const w = daemon([t.folder, '--directory-url', `${proxy.url}/dir`, '--ca-bundle', proxy.caFile, ...dnsArgs(t.zone)]);
    const name = `limited-${uniq()}`;
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
    const pem = await eventually('the certificate after the 429', () => fileOnce(join(t.folder, `${name}.${t.zone}.pem`)), 60_000);
    await verifyAgainstPebble(env, pem);
    expect(await w.stop()).toBe(0);

    const orders = proxy.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/order-plz'));
    expect(orders[0]?.faulted).toBe(true);
    const [refused, retried] = [orders[0]!, orders[1]!];
    expect(retried.at - refused.at).toBeGreaterThanOrEqual(3000);
    expect(retried.at - refused.at).toBeLessThan(15_000);
    // Nothing at all went to the CA while the certificate waited.
    expect(proxy.seen.filter((s) => s.at > refused.at && s.at < retried.at - 1000)).toEqual([]);
    const warned = w.logs.find((l) => l.code === 'ACME_RATE_LIMITED');
    expect(warned).toBeDefined();
  });
});

async function verifyAgainstPebbleRoot(rootPem: string, pem: string): Promise<X509Certificate> {
  const root = new X509Certificate(rootPem);
  const { certs } = splitPem(pem);
  const all = [...certs, root];
  for (let i = 0; i + 1 < all.length; i++) expect(all[i]!.verify(all[i + 1]!.publicKey)).toBe(true);
  return certs[0]!;
}
