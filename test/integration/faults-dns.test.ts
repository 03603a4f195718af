import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../support/pebble.js';
import { createMotoSource, startDnsFront, type ZoneSource } from '../support/dns-front.js';
import { normalizeName } from '../support/dns-zone-source.js';
import { startHttpFaultProxy, route53ServerError, route53Throttling, type Fault } from '../support/http-fault-proxy.js';
import { createZone, sans, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function daemon(args: string[]): WhisperProcess {
  const w = startWhisper(args);
  cleanups.push(() => w.stop());
  return w;
}

async function folder(): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'whisper-faults-dns-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  return join(base, 'certs');
}

const challengeNames = async (zoneId: string) => [...(await zoneTxt(env, zoneId)).keys()].filter((n) => n.startsWith('_acme-challenge'));

describe('Route53 faults', () => {
  it('retries through Throttling and HTTP 500 answers of ChangeResourceRecordSets and ListResourceRecordSets', async () => {
    const zone = `thr${uniq()}.whisper.test`;
    const zoneId = await createZone(env, zone);
    const proxy = await startHttpFaultProxy(env.route53.endpoint);
    cleanups.push(() => proxy.close());
    // The first calls of each kind on this zone fail: throttled twice, then a server fault; fewer than the SDK's
    // six attempts, so each call still succeeds without giving up the order.
    const plan: Record<string, Fault[]> = {
      list: [route53Throttling(), route53Throttling(), route53ServerError()],
      change: [route53Throttling(), route53ServerError(), route53ServerError()],
    };
    const kindOf = (method: string, path: string) =>
      path.includes(`/hostedzone/${zoneId}/rrset`) ? (method === 'POST' ? 'change' : 'list') : undefined;
    proxy.fault = (method, path) => {
      const kind = kindOf(method, path);
      return kind ? plan[kind]!.shift() : undefined;
    };

    const dir = await folder();
    const w = daemon([dir, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', proxy.url,
      '--allow-domain', zone, '--notify', `whisper-tests/${zone}`]);
    const name = `thr-${uniq()}`;
    await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
    const file = join(dir, `${name}.${zone}.pem`);
    const pem = await eventually(file, () => fileOnce(file), 90_000);
    expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`${name}.${zone}`]);
    // Removed once the order is over, in the background: the file may come first.
    await eventually('no challenge TXT record left', async () => ((await challengeNames(zoneId)).length === 0 ? true : undefined));

    for (const kind of ['list', 'change']) {
      const calls = proxy.seen.filter((s) => kindOf(s.method, s.path) === kind);
      const firstOk = calls.findIndex((s) => !s.faulted);
      // Three faulted calls, then answers from moto: present and clean-up went through.
      expect(calls.slice(0, 3).map((s) => s.faulted), kind).toEqual([true, true, true]);
      expect(firstOk, kind).toBe(3);
      expect(calls.slice(3).every((s) => !s.faulted), kind).toBe(true);
    }
    expect(proxy.seen.filter((s) => kindOf(s.method, s.path) === 'change' && !s.faulted).length).toBeGreaterThanOrEqual(2);
    expect(w.logs.filter((l) => l.msg === 'ordering certificate')).toHaveLength(1);
    expect(await w.stop()).toBe(0);
  });
});

describe('DNS propagation that never completes', () => {
  it('gives up after --propagation-timeout, cleans up, deactivates, retries with backoff; other zones are issued meanwhile', async () => {
    const withheld = `hid${uniq()}.whisper.test`;
    const open = `vis${uniq()}.whisper.test`;
    const withheldId = await createZone(env, withheld);
    const openId = await createZone(env, open);
    const moto = createMotoSource({ endpoint: env.route53.endpoint, region: env.route53.region });
    // The records are in the emulator, but this front never shows the withheld zone's challenge names.
    const source: ZoneSource = {
      zones: () => moto.zones(),
      async rrsets(zone) {
        const sets = await moto.rrsets(zone);
        if (zone !== withheld) return sets;
        return sets.filter((s) => !normalizeName(s.name).startsWith('_acme-challenge.'));
      },
      close: () => moto.close?.() ?? Promise.resolve(),
    };
    const front = await startDnsFront({ source, defaultForward: env.challtestsrv.dnsAddr });
    cleanups.push(() => front.close());
    cleanups.push(() => source.close!());
    const pebble: Pebble = await startPebble({ dir: env.runDir, name: `pebble-withheld-${uniq()}`, dnsServer: front.addr });
    cleanups.push(() => pebble.stop());

    const dir = await folder();
    const w = daemon([dir, '--consul', env.consul.httpAddr, '--directory-url', pebble.directoryUrl, '--ca-bundle', pebble.tlsCaFile,
      '--dns-resolver', front.addr, '--propagation-timeout', '3', '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint,
      '--allow-domain', withheld, '--allow-domain', open, '--notify', `whisper-tests/${withheld}`]);
    const hidden = `hid-${uniq()}`;
    const shown = `vis-${uniq()}`;
    await registerService(env, hidden, [`dns=${withheld}`, 'ssl=offloading']);
    await registerService(env, shown, [`dns=${open}`, 'ssl=offloading']);
    const hiddenId = `${hidden}.${withheld}`;

    const failed = await eventually('the failed attempt', () =>
      w.logs.find((l) => String(l.msg ?? '').startsWith('certificate job failed') && l.id === hiddenId));
    expect(failed.attempt).toBe(1);
    expect(String(failed.msg)).toMatch(/propagat/i);
    // The retry waits for the backoff (30 s ± 20 %), not a tight loop.
    const retryInMs = new Date(String(failed.nextAttempt)).getTime() - Number(failed.time);
    expect(retryInMs).toBeGreaterThanOrEqual(20_000);

    // Deactivated before the job ended; the record removed in the background.
    await eventually('no challenge TXT record left', async () => ((await challengeNames(withheldId)).length === 0 ? true : undefined));
    const deactivated = w.logs.filter((l) => l.step === 'deactivateAuthorization' && l.certId === hiddenId);
    expect(deactivated.map((l) => l.name)).toEqual([hiddenId]);

    // Another zone's certificate is issued by the same daemon meanwhile.
    const shownFile = join(dir, `${shown}.${open}.pem`);
    const pem = await eventually(shownFile, () => fileOnce(shownFile));
    const leaf = await verifyAgainstPebble({ ...env, pebble }, pem);
    expect(sans(leaf)).toEqual([`${shown}.${open}`]);
    await eventually('no challenge TXT record left', async () => ((await challengeNames(openId)).length === 0 ? true : undefined));

    const orders = () => w.logs.filter((l) => l.msg === 'ordering certificate' && l.cert === hiddenId);
    expect(orders()).toHaveLength(1);
    const second = await eventually('the second attempt', () => orders()[1], 60_000);
    expect(Number(second.time) - Number(orders()[0]!.time)).toBeGreaterThanOrEqual(20_000);
    expect(await fileOnce(join(dir, `${hiddenId}.pem`))).toBeUndefined();
    expect(await w.stop()).toBe(0);
    expect(await challengeNames(withheldId)).toEqual([]);
  });
});
