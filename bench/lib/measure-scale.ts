import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startConsul } from '../../test/support/consul.js';
import { startPebble } from '../../test/support/pebble.js';
import { startFaultProxy } from '../../test/support/fault-proxy.js';
import type { TestEnv } from '../../test/support/env-types.js';
import { startCountingProxy } from './counting-proxy.js';
import { cpuMs, statusMb } from './procfs.js';
import { certTags, register, startDaemon, until, type BenchDaemon } from './daemon.js';

/** Sizes of the scale and idle measures. */
export interface ScaleSize {
  services: number;
  tagged: number;
  /** Files in the folder at the restart (tagged ones plus copies). */
  files: number;
  changes: number;
  idleMs: number;
  /** Write a V8 CPU profile of each daemon into this folder (`--cpu-prof`); figures taken then are not comparable. */
  profileDir?: string;
}

/** Figures of the scale and idle measures. */
export interface ScaleResult {
  issueMs: number;
  peakRssMb: number;
  /** CPU ms per single-service catalog change, each; and with no change over the same window (baseline). */
  changeCpuMs: number[];
  /** All CPU from the first change until the daemon is idle again, per change. */
  changeAmortizedCpuMs: number;
  /** The same two for a service with a certificate whose tags changed without changing its certificate. */
  taggedChangeCpuMs: number[];
  taggedAmortizedCpuMs: number;
  baselineCpuMs: number;
  startupMs: number;
  startupOrders: number;
  startupPeakRssMb: number;
  idle: { cpuMs: number; consul: number; consulBlocking: number; ca: number; paths: string[] };
}

const countMsg = (logs: Array<Record<string, unknown>>, msg: string) => logs.filter((l) => l.msg === msg).length;

/**
 * Own Consul and Pebble (`PEBBLE_VA_ALWAYS_VALID=1`): a catalog of `services` with `tagged` certificates; peak RSS,
 * CPU per change; then a restart on `files` certificates through counting proxies: start-up time, and idle traffic.
 */
export async function scaleAndIdle(env: TestEnv, size: ScaleSize, log: (m: string) => void): Promise<ScaleResult> {
  const consul = await startConsul({ dir: env.runDir, node: 'bench-scale' });
  const pebble = await startPebble({ dir: env.runDir, dnsServer: env.bind.addr, env: { PEBBLE_VA_ALWAYS_VALID: '1' }, name: 'pebble-scale' });
  const zone = env.bind.zone;
  const tagged = new Set(Array.from({ length: size.tagged }, (_, i) => Math.floor((i * size.services) / size.tagged)));
  const services = Array.from({ length: size.services }, (_, i) => ({ name: `scale-${i}`, tags: tagged.has(i) ? certTags(zone) : ['http'] }));
  try {
    log(`registering ${size.services} services`);
    await register(consul.httpAddr, services, 64);
    const target = { consul: consul.httpAddr, directoryUrl: pebble.directoryUrl, caBundle: pebble.tlsCaFile, dns: 'rfc2136' as const, zone,
      extra: ['--concurrency', '20'] };
    const d = await startDaemon(env, target);
    const p0 = performance.now();
    let result: Pick<ScaleResult, 'issueMs' | 'peakRssMb'>;
    try {
      await until(`${size.tagged} certificates`, () => countMsg(d.w.logs, 'certificate issued') >= size.tagged, 900_000, 50);
      const issueMs = performance.now() - p0;
      log(`${size.tagged} issued in ${(issueMs / 1000).toFixed(1)} s`);
      result = { issueMs, peakRssMb: await statusMb(d.pid, 'VmHWM') };
    } finally {
      await d.w.stop();
    }
    // Fill the folder up to `files` with copies of issued certificates (parsing costs the same; no order is planned for them).
    const pems = (await readdir(d.folder)).filter((f) => f.endsWith('.pem'));
    for (let i = pems.length; i < size.files; i++) await copyFile(join(d.folder, pems[i % pems.length]!), join(d.folder, `extra-${i}.${zone}.pem`));
    const consulProxy = await startCountingProxy(consul.httpAddr);
    const caProxy = await startFaultProxy(env.runDir, { url: pebble.directoryUrl.replace(/\/dir$/, ''), caFile: pebble.tlsCaFile });
    const s0 = performance.now();
    const profile = size.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${size.profileDir}`] } : {};
    const r = await startDaemon(env, { ...target, consul: consulProxy.addr, directoryUrl: `${caProxy.url}/dir`, caBundle: caProxy.caFile, ...profile }, d.folder);
    try {
      const planned = 'certificate present and valid; nothing to order';
      await until('start-up plan', () => countMsg(r.w.logs, planned) >= size.tagged, 300_000, 5);
      const startupMs = performance.now() - s0;
      log(`restart on ${size.files} files planned in ${startupMs.toFixed(0)} ms`);
      await sleep(2000);
      const startupPeakRssMb = await statusMb(r.pid, 'VmHWM');
      const { changeCpuMs, baselineCpuMs, amortizedCpuMs: changeAmortizedCpuMs } = await changes(r, consul.httpAddr, size.changes, (i) => ({ name: `change-${i}`, tags: ['http'] }));
      const firstTagged = services.find((s) => s.tags.length > 1)!;
      const tagged = await changes(r, consul.httpAddr, size.changes, (i) => ({ name: firstTagged.name, tags: [...firstTagged.tags, `rev=${i}`] }));
      const c0 = consulProxy.seen.length;
      const a0 = caProxy.seen.length;
      const cpu0 = await cpuMs(r.pid);
      await sleep(size.idleMs);
      const consulReqs = consulProxy.seen.slice(c0);
      const idle = {
        cpuMs: (await cpuMs(r.pid)) - cpu0,
        consul: consulReqs.length,
        consulBlocking: consulReqs.filter((q) => /[?&]index=\d+/.test(q.path)).length,
        ca: caProxy.seen.length - a0,
        paths: [...new Set(consulReqs.map((q) => `${q.method} ${q.path.replace(/index=\d+/, 'index=N')}`))],
      };
      return { ...result, changeCpuMs, changeAmortizedCpuMs, taggedChangeCpuMs: tagged.changeCpuMs, taggedAmortizedCpuMs: tagged.amortizedCpuMs, baselineCpuMs, startupMs, startupOrders: countMsg(r.w.logs, 'ordering certificate'), startupPeakRssMb, idle };
    } finally {
      await r.w.stop();
      await consulProxy.close();
      await caProxy.close();
    }
  } finally {
    await pebble.stop();
    await consul.stop();
  }
}

const CHANGE_SEEN = ['Consul catalog index moved, no service tags changed', 'Consul catalog changed'];

/** Waits until the daemon used no CPU for a whole second (deferred GC and state writes done), at most 30 s; the wait in ms. */
async function settle(pid: number): Promise<number> {
  const t0 = performance.now();
  for (let c = await cpuMs(pid); performance.now() - t0 < 30_000; ) {
    await sleep(1000);
    const next = await cpuMs(pid);
    if (next === c) break;
    c = next;
  }
  return performance.now() - t0;
}

/**
 * CPU of the settled daemon around each of `count` registrations of one service (`service(i)`), over the same window
 * with none, and all CPU from the first registration until the daemon is idle again, per registration (deferred GC included).
 */
async function changes(d: BenchDaemon, consul: string, count: number, service: (i: number) => { name: string; tags: string[] }): Promise<ChangeCpu> {
  const seenNow = () => CHANGE_SEEN.reduce((n, msg) => n + countMsg(d.w.logs, msg), 0);
  await settle(d.pid);
  const b0 = await cpuMs(d.pid);
  await sleep(500);
  const baselineCpuMs = (await cpuMs(d.pid)) - b0;
  const start = await cpuMs(d.pid);
  const changeCpuMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const seen = seenNow();
    const before = await cpuMs(d.pid);
    await register(consul, [service(i)]);
    await until('change seen', () => seenNow() > seen, 10_000, 5);
    await sleep(500);
    changeCpuMs.push((await cpuMs(d.pid)) - before);
  }
  await settle(d.pid);
  return { changeCpuMs, baselineCpuMs, amortizedCpuMs: ((await cpuMs(d.pid)) - start) / count };
}

/** What {@link changes} measures. */
interface ChangeCpu {
  changeCpuMs: number[];
  baselineCpuMs: number;
  amortizedCpuMs: number;
}
