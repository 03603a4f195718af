import { describe, it, expect, inject } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../support/pebble.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { splitPem } from '../support/certs.js';
import { eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import { daemonHarness } from '../support/harness.js';
import '../support/env-types.js';

// Renewal on the days something odd happens, against real Pebbles (a fault proxy where Pebble cannot answer as
// Let's Encrypt does).
const env = inject('env');
const { cleanups, daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'l');

async function pebble(name: string, validitySeconds: number): Promise<Pebble> {
  const p = await startPebble({
    dir: env.runDir,
    name: `pebble-${name}-${uniq()}`,
    dnsServer: env.dnsFront.addr,
    config: { profiles: { default: { description: `${validitySeconds} seconds`, validityPeriod: validitySeconds } } },
  });
  cleanups.push(() => p.stop());
  return p;
}

const run = promisify(execFile);
const serial = async (file: string): Promise<string> => splitPem(await readFile(file, 'utf8')).certs[0]!.serialNumber;

describe('renewal that never stalls', () => {
  it("a certificate of another account: the CA refuses `replaces` (403 unauthorized), the renewal goes on at once without it", async () => {
    const ca = await pebble('accounts', 30);
    const t = await folderAndZone();
    const name = `moved-${uniq()}`;
    const file = `${name}.${t.zone}.pem`;
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
    const caArgs = ['--directory-url', ca.directoryUrl, '--ca-bundle', ca.tlsCaFile, ...dnsArgs(t.zone)];
    const first = daemon([t.folder, ...caArgs]);
    await eventually('the first certificate', () => fileOnce(join(t.folder, file)));
    expect(await first.stop()).toBe(0);

    // The certificate moves to a folder with another account (a moved folder without its .acme, an HA failover).
    const moved = join(t.base, 'moved');
    await mkdir(moved, { mode: 0o700 });
    await copyFile(join(t.folder, file), join(moved, file));
    const before = await serial(join(moved, file));
    const second = daemon([moved, ...caArgs]);
    const refused = await eventually('the refusal', () => second.logs.find((l) => l.msg === 'the CA refused `replaces`; ordering again without it'), 60_000);
    expect(String(refused.err)).toMatch(/unauthorized/);
    await eventually('the renewed certificate', async () => ((await serial(join(moved, file))) !== before ? true : undefined), 30_000);
    const orders = second.logs.filter((l) => l.msg === 'ordering certificate');
    expect(orders[0]?.replaces).toBeDefined();
    // Within seconds, not an hour later: one refused order, then the one without `replaces`.
    const issued = second.logs.find((l) => l.msg === 'certificate issued')!;
    expect(Number(issued.time) - Number(refused.time)).toBeLessThan(15_000);
    expect(await second.stop()).toBe(0);
    // The budget recorded the fallback as it checked it: a renewal of the same names without ARI (exact set only),
    // after the history rebuilt from the moved file at start (the folder had no state file).
    const books = JSON.parse(await readFile(join(moved, '.whisper-state.json'), 'utf8')) as { budget: Array<{ type: string; names?: string[]; renewal?: boolean }> };
    const recorded = books.budget.filter((e) => e.type === 'order');
    expect(recorded.map((e) => e.renewal === true)).toEqual([false, true]);
    expect(recorded[1]).toMatchObject({ names: [`${name}.${t.zone}`], renewal: true });
  }, 120_000);

  it("a 429 for one exact set (Let's Encrypt's body) holds back that certificate only: another service is issued at once", async () => {
    const proxy: FaultProxy = await startFaultProxy(env.runDir, { url: new URL(env.pebble.directoryUrl).origin, caFile: env.pebble.tlsCaFile });
    cleanups.push(() => proxy.close());
    let limited = 0;
    proxy.fault = (method, path) => {
      if (method !== 'POST' || !path.startsWith('/order-plz') || limited > 0) return undefined;
      limited++;
      return {
        status: 429,
        headers: { 'content-type': 'application/problem+json', 'retry-after': '3600' },
        body: JSON.stringify({
          type: 'urn:ietf:params:acme:error:rateLimited',
          status: 429,
          detail: 'Error creating new order :: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-12-03 12:00:00 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-hostnames',
        }),
      };
    };
    const t = await folderAndZone();
    const w = daemon([t.folder, '--directory-url', `${proxy.url}/dir`, '--ca-bundle', proxy.caFile, ...dnsArgs(t.zone)]);
    const first = `limited-${uniq()}`;
    await registerService(env, first, [`dns=${t.zone}`, 'ssl=offloading']);
    await eventually('the 429', () => (w.logs.some((l) => l.code === 'ACME_RATE_LIMITED') ? true : undefined));

    const other = `other-${uniq()}`;
    await registerService(env, other, [`dns=${t.zone}`, 'ssl=offloading']);
    await eventually('the unrelated certificate', () => fileOnce(join(t.folder, `${other}.${t.zone}.pem`)), 30_000);
    expect(await fileOnce(join(t.folder, `${first}.${t.zone}.pem`))).toBeUndefined();
    expect(await w.stop()).toBe(0);
    const state = JSON.parse(await readFile(join(t.folder, '.whisper-state.json'), 'utf8')) as {
      budget: Array<{ type: string; bucket?: string; key?: string }>;
      certs: Record<string, { deferredUntil?: string }>;
    };
    expect(state.budget.filter((e) => e.type === 'rateLimited')).toEqual([
      expect.objectContaining({ bucket: 'exactSet', key: `${first}.${t.zone}` }),
    ]);
    expect(Date.parse(state.certs[`${first}.${t.zone}`]!.deferredUntil!)).toBeGreaterThan(Date.now() + 3_000_000);
  }, 90_000);

  it('moving to another CA (staging → production) replaces its certificates at once, without `replaces`, those of unknown origin too', async () => {
    const staging = await pebble('staging', 3600);
    const production = await pebble('production', 3600);
    const t = await folderAndZone();
    const [name, legacy] = [`moving-${uniq()}`, `legacy-${uniq()}`];
    const files = [name, legacy].map((n) => join(t.folder, `${n}.${t.zone}.pem`));
    for (const n of [name, legacy]) await registerService(env, n, [`dns=${t.zone}`, 'ssl=offloading']);
    const before = daemon([t.folder, '--directory-url', staging.directoryUrl, '--ca-bundle', staging.tlsCaFile, ...dnsArgs(t.zone)]);
    for (const f of files) await eventually('the staging certificate', () => fileOnce(f));
    expect(await before.stop()).toBe(0);
    const stagingSerials = await Promise.all(files.map(serial));
    // One file of unknown origin, as whisper or an older release left it: its state entry says nothing of its CA.
    const statePath = join(t.folder, '.whisper-state.json');
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as { certs: Record<string, Record<string, unknown>> };
    delete saved.certs[`${legacy}.${t.zone}`];
    await writeFile(statePath, JSON.stringify(saved));

    const after = daemon([t.folder, '--directory-url', production.directoryUrl, '--ca-bundle', production.tlsCaFile, ...dnsArgs(t.zone)]);
    for (const [i, f] of files.entries()) {
      await eventually('the production certificate', async () => ((await serial(f)) !== stagingSerials[i] ? true : undefined), 30_000);
    }
    const orders = after.logs.filter((l) => l.msg === 'ordering certificate');
    expect(orders.map((l) => l.reason)).toEqual(['issued by another CA', 'issued by another CA']);
    expect(orders.filter((l) => l.replaces !== undefined)).toEqual([]);
    expect(await after.stop()).toBe(0);
    const state = JSON.parse(await readFile(statePath, 'utf8')) as { certs: Record<string, { ca?: string }> };
    for (const n of [name, legacy]) expect(state.certs[`${n}.${t.zone}`]?.ca).toBe(production.directoryUrl);
  }, 90_000);

  it('a folder that cannot take the result (a read-only mount): nothing is ordered until it can, then once', async () => {
    const proxy: FaultProxy = await startFaultProxy(env.runDir, { url: new URL(env.pebble.directoryUrl).origin, caFile: env.pebble.tlsCaFile });
    cleanups.push(() => proxy.close());
    // Orders the CA created (a POST refused for a bad nonce is no order).
    const orders = () => proxy.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/order-plz') && s.status === 201).length;
    const t = await folderAndZone();
    const w = daemon([t.folder, '--directory-url', `${proxy.url}/dir`, '--ca-bundle', proxy.caFile, '--retry-base', '1', ...dnsArgs(t.zone)]);
    const first = `rw-${uniq()}`;
    await registerService(env, first, [`dns=${t.zone}`, 'ssl=offloading']);
    await eventually('the first certificate', () => fileOnce(join(t.folder, `${first}.${t.zone}.pem`)));
    expect(orders()).toBe(1);

    // Root writes through file modes: a read-only bind mount is what stops it (EROFS).
    await run('mount', ['--bind', t.folder, t.folder]);
    let mounted = true;
    const unmount = async () => {
      if (mounted) await run('umount', [t.folder]);
      mounted = false;
    };
    cleanups.push(unmount);
    await run('mount', ['-o', 'remount,bind,ro', t.folder]);
    const second = `ro-${uniq()}`;
    await registerService(env, second, [`dns=${t.zone}`, 'ssl=offloading']);
    const refusals = () => w.logs.filter((l) => l.code === 'STORE_WRITE' && String(l.err ?? l.msg).includes(`certificate folder ${t.folder} is not writable by uid ${process.getuid!()}: EROFS`));
    await eventually('two refusals (a retry)', () => (refusals().length >= 2 ? true : undefined), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${w.output().slice(-3000)}`);
    });
    expect(orders()).toBe(1);
    await unmount();
    await eventually('the second certificate', () => fileOnce(join(t.folder, `${second}.${t.zone}.pem`)), 30_000);
    const trail = () => w.logs.filter((l) => /ordering|issued|STORE|ACME/.test(`${String(l.msg)} ${String(l.code)}`)).map((l) => JSON.stringify(l)).join('\n');
    expect(orders(), trail()).toBe(2);
    expect(await w.stop()).toBe(0);
  }, 90_000);
});
