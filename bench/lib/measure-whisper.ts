import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startFaultProxy } from '../../test/support/fault-proxy.js';
import type { TestEnv } from '../../test/support/env-types.js';
import { certTags, exists, notifiedFiles, register, startDaemon, until, type DaemonTarget } from './daemon.js';

/** Per-run figures of whisper-ts for one certificate. */
export interface SingleRuns {
  /** Registration to the file on disk and the notify key naming it, ms. */
  latency: number[];
  /** Registration to the first request the CA saw, ms. */
  reaction: number[];
}

/**
 * One daemon, `runs` services registered one after the other, each waited for: latency (file + notify) and
 * reaction (first request at the CA, through a recording proxy in front of Pebble).
 */
export async function whisperSingle(env: TestEnv, dns: 'rfc2136' | 'route53', runs: number, tag: string): Promise<SingleRuns> {
  const zone = dns === 'rfc2136' ? env.bind.zone : env.route53.zone;
  const proxy = await startFaultProxy(env.runDir, { url: env.pebble.directoryUrl.replace(/\/dir$/, ''), caFile: env.pebble.tlsCaFile });
  const target: DaemonTarget = { consul: env.consul.httpAddr, directoryUrl: `${proxy.url}/dir`, caBundle: proxy.caFile, dns, zone };
  const d = await startDaemon(env, target);
  const out: SingleRuns = { latency: [], reaction: [] };
  try {
    // Run -1 is a warm-up, not counted: account registration and first-use costs, as for the peers.
    for (let i = -1; i < runs; i++) {
      const name = `${tag}-${i < 0 ? 'warm' : i}`;
      const file = `${name}.${zone}.pem`;
      const t0 = Date.now();
      const p0 = performance.now();
      await register(env.consul.httpAddr, [{ name, tags: certTags(zone) }]);
      await until(file, async () => (await exists(join(d.folder, file))) && (await notifiedFiles(env.consul.httpAddr, d.notify)).includes(file));
      if (i < 0) continue;
      out.latency.push(performance.now() - p0);
      const first = proxy.seen.find((r) => r.at >= t0);
      if (first) out.reaction.push(first.at - t0);
    }
  } finally {
    await d.w.stop();
    await proxy.close();
  }
  return out;
}

/** `count` services registered at once; ms from the first registration to every file written and notified. */
export async function whisperThroughput(env: TestEnv, count: number, tag: string, concurrency: number): Promise<number> {
  const zone = env.bind.zone;
  const d = await startDaemon(env, { consul: env.consul.httpAddr, directoryUrl: env.pebble.directoryUrl, caBundle: env.pebble.tlsCaFile,
    dns: 'rfc2136', zone, extra: ['--concurrency', String(concurrency)] });
  try {
    await until('daemon started', () => d.w.logs.some((l) => l.msg === 'whisper-ts starting'), 30_000, 20);
    const names = Array.from({ length: count }, (_, i) => `${tag}-${i}`);
    const files = names.map((n) => `${n}.${zone}.pem`);
    const p0 = performance.now();
    await register(env.consul.httpAddr, names.map((name) => ({ name, tags: certTags(zone) })));
    await until(`${count} files`, async () => (await Promise.all(files.map((f) => exists(join(d.folder, f))))).every(Boolean), 600_000, 20);
    // Notifications are batched: the last batch names the file written last.
    const mtimes = await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(d.folder, f))).mtimeMs })));
    const last = mtimes.reduce((a, b) => (b.t > a.t ? b : a)).f;
    await until('notify', async () => (await notifiedFiles(env.consul.httpAddr, d.notify)).includes(last), 60_000, 10);
    return performance.now() - p0;
  } finally {
    await d.w.stop();
  }
}
