/**
 * The soak run: several certificates of a very short lifetime kept through generations of renewal by a cluster of
 * whisper-ts instances (`--ha --store consul`), while the Consul agent restarts empty, the CA is down for a while and
 * the leader is killed. It watches every instance's folder the whole time and counts what reached the CA.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestEnv } from '../../test/support/env-types.js';
import { createZone } from '../../test/support/certs.js';
import { consulPorts, startConsul, type ConsulAgent } from '../../test/support/consul.js';
import { startFaultProxy } from '../../test/support/fault-proxy.js';
import { startPebble } from '../../test/support/pebble.js';
import { registerService, startWhisper, uniq, type WhisperProcess } from '../../test/support/whisper.js';

/** Size and faults of a soak run. */
export interface SoakOptions {
  readonly services: number;
  /** Lifetime of the CA's certificates. */
  readonly validitySeconds: number;
  /** Certificates each name must go through (the first one included). */
  readonly generations: number;
  /** whisper-ts instances under `--ha`. */
  readonly instances: number;
  /** How long the CA answers 503 to everything. */
  readonly outageMs: number;
  /** Restart Consul, take the CA down, kill the leader. */
  readonly faults: boolean;
}

/** What a soak run saw. */
export interface SoakResult {
  readonly certificates: number;
  /** Distinct certificates seen per name, the smallest (names issued earlier may have gone further meanwhile). */
  readonly generations: number;
  /** Distinct certificates seen in all, every name together: the orders a perfect run would need. */
  readonly issued: number;
  /** Moments some name had no valid certificate in any live instance's folder. */
  readonly expiredGaps: string[];
  /** Least time between a name's renewal (first seen anywhere) and the expiry of the certificate it replaced. */
  readonly minMarginMs: number;
  /** Orders the CA created (`201` to a new order). */
  readonly ordersAtCa: number;
  /** Of them, ARI renewals (`replaces` sent): exempt from the CA's limits. */
  readonly exemptOrders: number;
  /** Orders the instances logged that gave no certificate (failed, aborted, or in flight at a kill): each may have cost one order at the CA. */
  readonly retriesShown: number;
  /** Orders in the rate-limit budget's books: the union of every instance's state file. */
  readonly budgetOrders: number;
  /** From the leader's `kill -9` to another instance's leadership. */
  readonly takeoverMs?: number;
  readonly faultsDone: string[];
  readonly durationMs: number;
}

interface Seen {
  serials: Set<string>;
  /** notAfter of the newest certificate seen, by serial. */
  notAfter: Map<string, number>;
  firstSeen: Map<string, number>;
}

/** How often the folders are read. */
const POLL_MS = 200;

const pemFiles = async (folder: string) => (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.pem') && !n.startsWith('.'));

async function leaf(file: string): Promise<X509Certificate | undefined> {
  try {
    const pem = (await readFile(file, 'utf8')).match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)?.[0];
    return pem ? new X509Certificate(pem) : undefined;
  } catch {
    return undefined;
  }
}

/** Orders an instance started (`ordering certificate`) that did not end in `certificate issued`, per certificate. */
function unfinishedOrders(w: WhisperProcess): number {
  const open = new Map<string, number>();
  for (const l of w.logs) {
    const id = String(l.cert);
    if (l.msg === 'ordering certificate') open.set(id, (open.get(id) ?? 0) + 1);
    else if (l.msg === 'certificate issued') open.set(id, Math.max(0, (open.get(id) ?? 0) - 1));
  }
  return [...open.values()].reduce((a, b) => a + b, 0);
}

/** The leading instance: the last to say it acquired leadership without losing it since. */
function leaderOf(procs: readonly WhisperProcess[], alive: (w: WhisperProcess) => boolean): WhisperProcess | undefined {
  let best: { w: WhisperProcess; at: number } | undefined;
  for (const w of procs.filter(alive)) {
    const acquired = w.logs.findLastIndex((l) => l.msg === 'acquired leadership');
    const lost = w.logs.findLastIndex((l) => typeof l.msg === 'string' && l.msg.startsWith('lost leadership'));
    if (acquired < 0 || lost > acquired) continue;
    const at = Number(w.logs[acquired]!.time);
    if (!best || at > best.at) best = { w, at };
  }
  return best?.w;
}

/** Runs one soak; `say` narrates. Everything it started is stopped before it returns. */
export async function runSoak(env: TestEnv, o: SoakOptions, say: (m: string) => void): Promise<SoakResult> {
  const started = Date.now();
  const base = await mkdtemp(join(tmpdir(), 'whisper-soak-'));
  const stops: Array<() => Promise<unknown>> = [];
  const procs: WhisperProcess[] = [];
  const dead = new Set<WhisperProcess>();
  try {
    const zone = `soak${uniq()}.whisper.test`;
    await createZone(env, zone);
    const ports = await consulPorts();
    let consul: ConsulAgent = await startConsul({ dir: base, ports, node: `soak-${uniq()}` });
    stops.push(() => consul.stop());
    const pebble = await startPebble({
      dir: base, name: `pebble-soak-${uniq()}`, dnsServer: env.dnsFront.addr,
      config: { profiles: { default: { description: `${o.validitySeconds} seconds`, validityPeriod: o.validitySeconds } } },
    });
    stops.push(() => pebble.stop());
    const proxy = await startFaultProxy(base, { url: new URL(pebble.directoryUrl).origin, caFile: pebble.tlsCaFile });
    stops.push(() => proxy.close());
    const folders = Array.from({ length: o.instances }, (_, i) => join(base, `certs${i}`));
    for (const folder of folders) {
      const w = startWhisper([folder, '--consul', consul.httpAddr, '--directory-url', `${proxy.url}/dir`, '--ca-bundle', proxy.caFile,
        '--dns-resolver', env.dnsFront.addr, '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone,
        '--notify', `soak/${zone}/updated`, '--ha', '--store', 'consul', '--lock-key', `soak/${zone}/leader`, '--store-prefix', `soak/${zone}/certs`,
        '--session-ttl', '10', '--check-ttl', '2', '--lock-delay', '3', '--concurrency', '5', '--retry-base', '2']);
      procs.push(w);
      stops.push(() => w.stop());
    }
    const names = Array.from({ length: o.services }, (_, i) => `s${i}-${uniq()}`);
    const register = async () => {
      for (const name of names) await registerService({ ...env, consul: { ...env.consul, httpAddr: consul.httpAddr } }, name, [`dns=${zone}`, 'ssl=offloading']);
    };
    await register();
    say(`soak: ${o.services} services, ${o.validitySeconds} s certificates, ${o.instances} instances, ${o.generations} generations`);

    const seen = new Map<string, Seen>(names.map((n) => [`${n}.${zone}.pem`, { serials: new Set(), notAfter: new Map(), firstSeen: new Map() }]));
    const gaps: string[] = [];
    let minMargin = Infinity;
    const alive = (w: WhisperProcess) => !dead.has(w) && w.child.exitCode === null;
    const observe = async () => {
      const now = Date.now();
      const valid = new Map<string, number>();
      for (const [i, folder] of folders.entries()) {
        if (!alive(procs[i]!)) continue;
        for (const file of await pemFiles(folder)) {
          const s = seen.get(file);
          const cert = s ? await leaf(join(folder, file)) : undefined;
          if (!s || !cert) continue;
          const notAfter = new Date(cert.validTo).getTime();
          if (!s.serials.has(cert.serialNumber)) {
            // A new generation: how much time the one before still had. It was written at most one poll before it
            // was seen, so only a certificate seen more than a poll after the old one's expiry surely came late.
            const previous = [...s.notAfter.values()].sort((a, b) => b - a)[0];
            if (previous !== undefined) {
              minMargin = Math.min(minMargin, previous - now);
              if (now - POLL_MS > previous) gaps.push(`${new Date(previous).toISOString()} ${file}: renewed ${now - previous} ms after its expiry`);
            }
            s.serials.add(cert.serialNumber);
            s.notAfter.set(cert.serialNumber, notAfter);
            s.firstSeen.set(cert.serialNumber, now);
          }
          valid.set(file, Math.max(valid.get(file) ?? 0, notAfter));
        }
      }
      for (const [file, s] of seen) {
        if (s.serials.size > 0 && (valid.get(file) ?? 0) <= now) gaps.push(`${new Date(now).toISOString()} ${file}`);
      }
    };
    const generation = () => Math.min(...[...seen.values()].map((s) => s.serials.size));
    const deadline = started + o.validitySeconds * 1000 * (o.generations + 3) + 120_000;
    const faultsDone: string[] = [];
    let takeoverMs: number | undefined;
    let phase = 0;
    while (generation() < o.generations) {
      if (Date.now() > deadline) {
        const tails = procs.map((w, i) => `instance ${i}:\n${w.output().split('\n').slice(-15).join('\n')}`).join('\n');
        throw new Error(`soak: generation ${generation()} of ${o.generations} when time ran out\n${tails}`);
      }
      await observe();
      if (o.faults && phase === 0 && generation() >= 1) {
        phase = 1;
        say('soak: the Consul agent restarts empty (services registered again, as from its configuration)');
        await consul.stop();
        consul = await startConsul({ dir: base, ports, node: `soak-${uniq()}` });
        await register();
        faultsDone.push('Consul agent restarted empty');
      } else if (o.faults && phase === 1) {
        phase = 2;
        say(`soak: the CA answers 503 for ${o.outageMs / 1000} s`);
        proxy.fault = () => ({ status: 503, headers: { 'retry-after': '2' }, body: 'Service Unavailable' });
        setTimeout(() => (proxy.fault = () => undefined), o.outageMs).unref();
        faultsDone.push(`CA down ${o.outageMs / 1000} s`);
      } else if (o.faults && phase === 2 && [...seen.values()].filter((s) => s.serials.size >= 2).length >= Math.ceil(o.services / 2)) {
        const leader = leaderOf(procs, alive);
        if (leader) {
          phase = 3;
          say('soak: kill -9 of the leader');
          leader.child.kill('SIGKILL');
          await leader.exited;
          dead.add(leader);
          const killed = Date.now();
          faultsDone.push('leader killed');
          void (async () => {
            while (!leaderOf(procs, alive) && Date.now() < killed + 120_000) await sleep(50);
            if (leaderOf(procs, alive)) takeoverMs = Date.now() - killed;
          })();
        }
      }
      await sleep(POLL_MS);
    }
    await observe();
    await sleep(1500); // the last state writes (at most once a second)
    const live = procs.filter(alive);
    for (const w of live) await w.stop();

    const orders = proxy.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/order-plz') && s.status === 201);
    const books = new Set<string>();
    for (const folder of folders) {
      try {
        const state = JSON.parse(await readFile(join(folder, '.whisper-state.json'), 'utf8')) as { budget?: Array<{ type: string; at: string; names?: string[] }> };
        for (const e of state.budget ?? []) if (e.type === 'order') books.add(`${e.at} ${(e.names ?? []).join(',')}`);
      } catch {
        /* an instance that never led has no state file */
      }
    }
    return {
      certificates: o.services,
      generations: generation(),
      issued: [...seen.values()].reduce((n, x) => n + x.serials.size, 0),
      expiredGaps: gaps,
      minMarginMs: minMargin,
      ordersAtCa: orders.length,
      exemptOrders: orders.filter((s) => typeof s.payload?.replaces === 'string').length,
      retriesShown: procs.reduce((n, w) => n + unfinishedOrders(w), 0),
      budgetOrders: books.size,
      ...(takeoverMs === undefined ? {} : { takeoverMs }),
      faultsDone,
      durationMs: Date.now() - started,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  }
}
