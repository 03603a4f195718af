import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { openHistory } from '../../src/history/db.js';
import type { HistoryKind } from '../../src/history/types.js';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createZone } from '../support/certs.js';
import { startConsul, type ConsulAgent } from '../support/consul.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startPebble } from '../support/pebble.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
/** The cluster's timings: the session tied to a 3 s check (passed every second), and a 4 s lock delay. */
const CHECK_TTL_S = 3;
const LOCK_DELAY_S = 4;
const running: WhisperProcess[] = [];
const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(running.map((w) => w.stop()));
  for (const stop of stops) await stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Cluster {
  zone: string;
  consul: ConsulAgent;
  proxy: FaultProxy;
  folders: string[];
  procs: WhisperProcess[];
}

async function cluster(): Promise<Cluster> {
  const zone = `ha${uniq()}.whisper.test`;
  await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-ha-'));
  dirs.push(base);
  const consul = await startConsul({ dir: base });
  stops.push(() => consul.stop());
  // A Pebble of its own: a leader killed mid-validation, re-ordered at once by the next, can deadlock Pebble's
  // store (letsencrypt/pebble#554) and with it every other test of the run.
  const pebble = await startPebble({ dir: base, name: `pebble-ha-${uniq()}`, dnsServer: env.dnsFront.addr });
  stops.push(() => pebble.stop());
  const proxy = await startFaultProxy(base, { url: new URL(pebble.directoryUrl).origin, caFile: pebble.tlsCaFile });
  stops.push(() => proxy.close());
  const notify = `whisper-tests/${zone}`;
  const folders = [0, 1, 2].map((i) => join(base, `certs${i}`));
  const procs = folders.map((folder) => {
    const args = envArgs(env).map((a) =>
      a === env.pebble.directoryUrl ? `${proxy.url}/dir` : a === env.pebble.tlsCaFile ? proxy.caFile : a === env.consul.httpAddr ? consul.httpAddr : a,
    );
    const w = startWhisper([folder, ...args, '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone,
      '--notify', notify, '--ha', '--store', 'consul', '--lock-key', `whisper-tests/${zone}/leader`, '--store-prefix', `whisper-tests/${zone}/certs`,
      '--session-ttl', '10', '--check-ttl', String(CHECK_TTL_S), '--lock-delay', String(LOCK_DELAY_S), '--concurrency', '2']);
    running.push(w);
    return w;
  });
  return { zone, consul, proxy, folders, procs };
}

const said = (w: WhisperProcess, msg: string) => w.logs.filter((l) => l.msg === msg);
const ordersMade = (proxy: FaultProxy) => proxy.seen.filter((r) => r.method === 'POST' && r.path.startsWith('/order-plz') && r.status === 201).length;

async function serials(folder: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.pem') && !n.startsWith('.'))) {
    const text = await fileOnce(join(folder, name));
    const cert = text?.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)?.[0];
    if (cert) out.set(name, new X509Certificate(cert).serialNumber);
  }
  return out;
}

describe('high availability on Consul', () => {
  it('a killed leader is replaced; each certificate is issued once and every folder ends the same', async () => {
    const c = await cluster();
    const consulEnv = { ...env, consul: { ...env.consul, httpAddr: c.consul.httpAddr } };
    const leader = await eventually('a leader', () => c.procs.find((w) => said(w, 'acquired leadership').length > 0), 30_000);
    const names = [0, 1, 2, 3, 4].map((i) => `h${i}-${uniq()}`);
    for (const name of names) await registerService(consulEnv, name, [`dns=${c.zone}`, 'ssl=offloading']);
    await eventually('the leader orders', () => said(leader, 'ordering certificate').length > 0, 30_000);
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await leader.exited;
    const others = c.procs.filter((w) => w !== leader);
    const next = await eventually('another leader', () => others.find((w) => said(w, 'acquired leadership').length > 0), 30_000);
    // The killed leader's check turns critical within its TTL, Consul ends the session at once, and the lock is free
    // a lock delay later (it used to take up to twice the session TTL plus the lock delay: 35 s).
    const takeoverMs = (said(next, 'acquired leadership')[0]!.time as number) - killedAt;
    console.log(`HA failover: takeover ${takeoverMs} ms after kill -9 of the leader (check TTL ${CHECK_TTL_S} s, lock delay ${LOCK_DELAY_S} s)`);
    expect(takeoverMs).toBeGreaterThanOrEqual(LOCK_DELAY_S * 1000);
    expect(takeoverMs).toBeLessThanOrEqual((LOCK_DELAY_S + 5) * 1000);
    const wanted = names.map((n) => `${n}.${c.zone}.pem`).sort();
    const live = c.folders.filter((_, i) => c.procs[i] !== leader);
    await eventually('every certificate in both live folders', async () => {
      for (const folder of live) if ((await serials(folder)).size < wanted.length) return undefined;
      return true;
    }, 60_000);
    const [a, b] = await Promise.all(live.map(serials));
    expect([...a!.keys()].sort()).toEqual(wanted);
    expect([...b!.entries()].sort()).toEqual([...a!.entries()].sort());
    // A killed in-flight order may be done again once at most: 5 orders, or up to 2 more (concurrency 2).
    const orders = ordersMade(c.proxy);
    expect(orders).toBeGreaterThanOrEqual(wanted.length);
    expect(orders).toBeLessThanOrEqual(wanted.length + 2);
    // The killed instance, restarted, copies the same files from KV and orders nothing.
    const killedFolder = c.folders[c.procs.indexOf(leader)]!;
    const args = leader.child.spawnargs.slice(2, -1);
    const again = startWhisper(args);
    running.push(again);
    await eventually('the restarted instance has every file', async () => ((await serials(killedFolder)).size === wanted.length ? true : undefined), 30_000);
    expect([...(await serials(killedFolder)).entries()].sort()).toEqual([...a!.entries()].sort());
    expect(ordersMade(c.proxy)).toBe(orders);
    // Each instance records what it did in its own folder's history, each row naming the instance.
    const historyOf = (folder: string, kind: HistoryKind) => {
      const h = openHistory(folder, { readOnly: true });
      try {
        return h.query({ kinds: [kind] });
      } finally {
        h.close();
      }
    };
    const issuedByNext = historyOf(c.folders[c.procs.indexOf(next)]!, 'issued');
    expect(issuedByNext.length).toBeGreaterThan(0);
    expect(new Set(issuedByNext.map((r) => r.instance))).toEqual(new Set([`${hostname()}:${next.child.pid}`]));
    const orderedByKilled = historyOf(killedFolder, 'order');
    expect(orderedByKilled.length).toBeGreaterThan(0);
    expect(new Set(orderedByKilled.map((r) => r.instance))).toEqual(new Set([`${hostname()}:${leader.child.pid}`]));
  }, 120_000);

  it('a leader whose session is destroyed stops ordering at once (no split brain)', async () => {
    const c = await cluster();
    const consulEnv = { ...env, consul: { ...env.consul, httpAddr: c.consul.httpAddr } };
    const leader = await eventually('a leader', () => c.procs.find((w) => said(w, 'acquired leadership').length > 0), 30_000);
    const sessions = (await (await fetch(`http://${c.consul.httpAddr}/v1/kv/whisper-tests/${c.zone}/leader`)).json()) as Array<{ Session?: string }>;
    const session = sessions[0]?.Session;
    expect(session).toBeTruthy();
    // Hold every new order at the CA long enough that the session is destroyed while work is queued.
    for (const name of [0, 1, 2, 3].map((i) => `s${i}-${uniq()}`)) await registerService(consulEnv, name, [`dns=${c.zone}`, 'ssl=offloading']);
    await eventually('the leader orders', () => said(leader, 'ordering certificate').length > 0, 30_000);
    const res = await fetch(`http://${c.consul.httpAddr}/v1/session/destroy/${session}`, { method: 'PUT' });
    expect(res.ok).toBe(true);
    const lost = await eventually('lost leadership', () => leader.logs.findIndex((l) => l.msg === 'lost leadership: stopping the pipeline') + 1 || undefined, 20_000);
    // Until it leads again, the old leader starts no order.
    const reacquired = leader.logs.findIndex((l, i) => i >= lost && l.msg === 'acquired leadership');
    const window = leader.logs.slice(lost, reacquired === -1 ? undefined : reacquired);
    expect(window.filter((l) => l.msg === 'ordering certificate')).toEqual([]);
    await eventually('a leader again', () => c.procs.some((w) => w.logs.findIndex((l, i) => l.msg === 'acquired leadership' && (w !== leader || i >= lost)) >= 0) || undefined, 30_000);
    // Each instance registered a passing check; one stopped cleanly takes its check away with it.
    const checks = async () => Object.values((await (await fetch(`http://${c.consul.httpAddr}/v1/agent/checks`)).json()) as Record<string, { CheckID: string; ServiceName: string; Status: string }>)
      .filter((k) => k.ServiceName === 'whisper-ts');
    const ofPid = (pid: number | undefined) => new RegExp(`^whisper-ts-.+-${pid}-[0-9a-f]{6}$`);
    for (const w of c.procs) expect((await checks()).find((k) => ofPid(w.child.pid).test(k.CheckID))?.Status).toBe('passing');
    expect(await leader.stop()).toBe(0);
    expect((await checks()).filter((k) => ofPid(leader.child.pid).test(k.CheckID))).toEqual([]);
  }, 90_000);
});
