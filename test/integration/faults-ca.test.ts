import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPebble, type Pebble } from '../support/pebble.js';
import { startProcess, type ServerProcess } from '../support/proc.js';
import { binaries } from '../support/paths.js';
import { httpsGet } from '../support/https-get.js';
import { createZone, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function ownPebble(name: string, extraEnv: Record<string, string> = {}): Promise<Pebble> {
  const pebble = await startPebble({ dir: env.runDir, name: `${name}-${uniq()}`, dnsServer: env.dnsFront.addr, env: extraEnv });
  cleanups.push(() => pebble.stop());
  return pebble;
}

/**
 * Starts Pebble again from the config file of `pebble` (same ports, same HTTPS certificate, as a CA restarted on its
 * host would be). Its ACME state is gone: accounts, orders and its root CA are new.
 */
async function restartPebble(pebble: Pebble): Promise<ServerProcess> {
  const proc = await startProcess({
    name: 'pebble restarted',
    command: binaries().pebble,
    args: ['-config', pebble.configFile, '-dnsserver', env.dnsFront.addr],
    logFile: join(dirname(pebble.configFile), 'pebble-restarted.log'),
    env: { PEBBLE_VA_NOSLEEP: '1' },
    ready: async () => (await httpsGet(pebble.directoryUrl, pebble.tlsCaFile)).status === 200 &&
      (await httpsGet(`${pebble.managementUrl}/roots/0`, pebble.tlsCaFile)).status === 200,
  });
  cleanups.push(() => proc.stop());
  return proc;
}

async function setup(prefix: string) {
  const zone = `${prefix}${uniq()}.whisper.test`;
  const zoneId = await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-faults-ca-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  return { zone, zoneId, folder: join(base, 'certs') };
}

function daemon(pebble: Pebble, zone: string, folder: string, extra: string[] = []): WhisperProcess {
  const w = startWhisper([folder, '--consul', env.consul.httpAddr, '--directory-url', pebble.directoryUrl, '--ca-bundle', pebble.tlsCaFile,
    '--dns-resolver', env.dnsFront.addr, '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint,
    '--allow-domain', zone, '--notify', `whisper-tests/${zone}`, '--rate-limits', 'none', '--retry-base', '1', ...extra]);
  cleanups.push(() => w.stop());
  return w;
}

const challenges = async (zoneId: string) => [...(await zoneTxt(env, zoneId)).keys()].filter((n) => n.startsWith('_acme-challenge.'));

describe('CA faults', () => {
  it('issues 20 certificates while the CA rejects half of all nonces', async () => {
    const pebble = await ownPebble('pebble-nonces', { PEBBLE_WFE_NONCEREJECT: '50' });
    const t = await setup('cn');
    const w = daemon(pebble, t.zone, t.folder, ['--concurrency', '8']);
    const names = Array.from({ length: 20 }, (_, i) => `n${i}-${uniq()}`);
    await Promise.all(names.map((name) => registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading'])));
    const caEnv = { ...env, pebble: { ...env.pebble, managementUrl: pebble.managementUrl, tlsCaFile: pebble.tlsCaFile } };
    for (const name of names) {
      const pem = await eventually(`the certificate of ${name}`, () => fileOnce(join(t.folder, `${name}.${t.zone}.pem`)), 55_000).catch((err: Error) => {
        // What that certificate's jobs went through: a stall and a slow backoff look alike from outside.
        const trail = w.logs.filter((l) => [l.cert, l.certId, l.id].includes(`${name}.${t.zone}`)).map((l) => JSON.stringify(l)).join('\n');
        throw new Error(`${err.message}\n${trail.slice(-6000)}`);
      });
      await verifyAgainstPebble(caEnv, pem);
    }
    // Pebble did run with rejected nonces, and nothing was left in the zone.
    expect(pebble.process.logTail(100_000)).toMatch(/reject 50% of good nonces/);
    expect(new Set(w.logs.filter((l) => l.msg === 'certificate issued').map((l) => l.cert)).size).toBe(20);
    // Removed once each order is over, in the background: the files may come first.
    await eventually('no challenge TXT record left', async () => ((await challenges(t.zoneId)).length === 0 ? true : undefined));
    expect(await w.stop()).toBe(0);
  });

  it('retries an order the CA lost while down (new account, new root) and leaves no TXT record behind', async () => {
    const pebble = await ownPebble('pebble-down');
    const t = await setup('cd');
    const w = daemon(pebble, t.zone, t.folder);
    await eventually('the ACME account', () => w.logs.some((l) => l.msg === 'Consul catalog changed'));
    const name = `down-${uniq()}`;
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);

    // The order exists once its first TXT record is published: stop the CA right then.
    await eventually('the first challenge TXT record', async () => (await challenges(t.zoneId)).length > 0 || undefined, 30_000);
    await pebble.stop();
    const downAt = Date.now();
    await sleep(10_000);
    await restartPebble(pebble);

    const pem = await eventually('the certificate after the CA came back', () => fileOnce(join(t.folder, `${name}.${t.zone}.pem`)), 40_000);
    // The restarted CA has a new root: the chain must lead to it.
    await verifyAgainstPebble({ ...env, pebble: { ...env.pebble, managementUrl: pebble.managementUrl, tlsCaFile: pebble.tlsCaFile } }, pem);
    // Removed once each order is over, in the background: the files may come first.
    await eventually('no challenge TXT record left', async () => ((await challenges(t.zoneId)).length === 0 ? true : undefined));
    expect(await w.stop()).toBe(0);

    // The restarted CA had forgotten the account: the issuer found (registered) it again instead of failing forever.
    expect(w.logs.some((l) => l.msg === 'the CA does not know the saved account; looking it up again')).toBe(true);
    // Retried with growing delays while the CA was down, not in a tight loop.
    const failures = w.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('certificate job failed'));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.length).toBeLessThanOrEqual(6);
    const startedDown = w.logs.filter((l) => l.msg === 'certificate job started' && Number(l.time) >= downAt);
    expect(startedDown.length).toBeLessThanOrEqual(6);
  });
});
