/**
 * Production-shaped Route53 measure (issue 15): the Route53 emulator behind a proxy that holds every change PENDING
 * for a set time (real Route53 takes up to about 60 s), Pebble validating with its natural delay (no
 * PEBBLE_VA_NOSLEEP). For each count, N services in one zone are registered at once with a fresh daemon running;
 * the wall time runs to the last certificate file, the Route53 calls are counted until the daemon is quiet again
 * (its clean-up included). With dns-persist-01, the daemon is then stopped, the files removed and a new daemon
 * started: every certificate is ordered again with the same account, as a renewal is, and that re-order is timed
 * and its DNS changes counted too.
 *
 * `npx tsx bench/pending.ts [--delay <s>] [--counts 1,20,100] [--challenge dns-01,dns-persist-01] [--concurrency <n>[,<n>...]] [--before <dir> [--before-concurrency <n>] [--skip-now]] [--out <file>]`
 * Each challenge × `--concurrency` is a client of its own (default: the daemon's default, 128). `--before <dir>`: also a build of another version (its `dist/bin.js`), e.g. the previous release, with dns-01.
 * Writes the table between the pending markers of bench/README.md (or `--out`); `--out -` prints only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestEnv } from '../test/support/test-env.js';
import { startPebble } from '../test/support/pebble.js';
import { createZone } from '../test/support/certs.js';
import { startRoute53Proxy } from '../test/support/route53-proxy.js';
import { certTags, exists, register, until } from './lib/daemon.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const delayS = Number(arg('--delay') ?? '30');
const counts = (arg('--counts') ?? '1,20,100').split(',').map(Number);
const concurrencies = (arg('--concurrency') ?? '128').split(',').map(Number);
const challenges = (arg('--challenge') ?? 'dns-01,dns-persist-01').split(',');
const beforeDir = arg('--before');
const beforeConcurrency = Number(arg('--before-concurrency') ?? '4');
const outArg = arg('--out');
const out = outArg === '-' ? undefined : resolve(outArg ?? resolve(import.meta.dirname, 'README.md'));
const say = (m: string) => console.log(`[pending ${new Date().toISOString().slice(11, 19)}] ${m}`);
const START = '<!-- pending:start -->';
const END = '<!-- pending:end -->';

interface Client {
  name: string;
  bin: string;
  concurrency: number;
  challenge: string;
}
interface Row {
  client: string;
  count: number;
  wallMs: number;
  /** Route53 calls by action, the clean-up included. */
  calls: Record<string, number>;
  total: number;
  /** Changes (ChangeResourceRecordSets) before the last certificate was written. */
  changesToLast: number;
  /** dns-persist-01: every certificate ordered again by a new daemon (files removed): wall time and DNS changes. */
  reorder?: { wallMs: number; changes: number };
}

// `--skip-now`: only the `--before` build (a long run of the previous release, beside a table of this one).
const clients: Client[] = process.argv.includes('--skip-now') ? [] : challenges.flatMap((challenge) => concurrencies.map((concurrency) => ({
  name: `whisper-ts now, ${challenge}, --concurrency ${concurrency}`, bin: resolve(import.meta.dirname, '../dist/bin.js'), concurrency, challenge,
})));
if (beforeDir) {
  clients.push({ name: `whisper-ts before issue 15, dns-01, --concurrency ${beforeConcurrency}`, bin: resolve(beforeDir, 'dist/bin.js'), concurrency: beforeConcurrency, challenge: 'dns-01' });
}

const running = await startTestEnv();
const { env } = running;
const rows: Row[] = [];
const started = performance.now();
try {
  const tag = `p${Date.now().toString(36)}`;
  for (const client of clients) {
    for (const count of counts) {
      // A Pebble per run: its natural validation delay, and no order left over from the previous run.
      const pebble = await startPebble({ dir: env.runDir, dnsServer: env.dnsFront.addr, name: `pebble-${tag}-${rows.length}`, env: { PEBBLE_VA_NOSLEEP: '0' } });
      const zone = `${tag}${rows.length}.whisper.test`;
      await createZone(env, zone);
      const proxy = await startRoute53Proxy(env.route53.endpoint, { pendingMs: delayS * 1000 });
      const folder = join(await mkdtemp(join(tmpdir(), 'whisper-bench-pending-')), 'certs');
      let child: ChildProcess | undefined;
      let output = '';
      let names: string[] = [];
      const start = async () => {
        output = '';
        child = spawn(process.execPath, [client.bin, folder, '--consul', env.consul.httpAddr, '--directory-url', pebble.directoryUrl,
          '--ca-bundle', pebble.tlsCaFile, '--dns-provider', 'route53', '--route53-endpoint', proxy.url, '--dns-resolver', env.dnsFront.addr,
          '--allow-domain', zone, '--concurrency', String(client.concurrency), '--rate-limits', 'none',
          ...(client.challenge === 'dns-01' ? [] : ['--challenge', client.challenge])], {
          env: { ...process.env, ACME_REGISTER_EMAIL: 'bench@example.com', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
            AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout!.setEncoding('utf8').on('data', (c: string) => (output = (output + c).slice(-20_000)));
        child.stderr!.setEncoding('utf8').on('data', (c: string) => (output = (output + c).slice(-20_000)));
        await until('daemon started', () => output.includes('whisper-ts starting'), 30_000, 20);
      };
      const stop = async () => {
        const c = child;
        child = undefined;
        if (!c || c.exitCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([exited, sleep(20_000)]);
      };
      try {
        say(`${client.name}: ${count} certificates, changes PENDING ${delayS} s`);
        await start();
        names = Array.from({ length: count }, (_, i) => `${tag}-${rows.length}-${i}`);
        const files = names.map((n) => `${n}.${zone}.pem`);
        const p0 = performance.now();
        await register(env.consul.httpAddr, names.map((name) => ({ name, tags: certTags(zone) })));
        // Long enough for 100 orders four at a time with two waits each (the previous release).
        await until(`${count} files`, async () => (await Promise.all(files.map((f) => exists(join(folder, f))))).every(Boolean),
          count * 4 * delayS * 1000 + 300_000, 50);
        const wallMs = performance.now() - p0;
        const changesToLast = proxy.calls.filter((c) => c.action === 'ChangeResourceRecordSets').length;
        // The clean-up: its changes, then its wait; quiet for longer than the longest poll interval (5 s) means done.
        const quiet = () => Date.now() - (proxy.calls.at(-1)?.at ?? 0) > 8000 && [...proxy.submitted.values()].every((t) => Date.now() - t > delayS * 1000);
        await until('Route53 quiet', quiet, count * 4 * delayS * 1000 + 300_000, 500);
        const calls = proxy.count();
        const row: Row = { client: client.name, count, wallMs, calls, total: proxy.calls.length, changesToLast };
        rows.push(row);
        // When the changes went out, and the span of the record reads before them: where the wall time goes.
        const t0 = performance.timeOrigin + p0;
        const at = (action: string) => proxy.calls.filter((c) => c.action === action).map((c) => ((c.at - t0) / 1000).toFixed(1));
        const lists = at('ListResourceRecordSets');
        say(`${(wallMs / 1000).toFixed(1)} s; ${proxy.calls.length} calls ${JSON.stringify(calls)}; changes at ${at('ChangeResourceRecordSets').join(', ')} s; ` +
          `ListResourceRecordSets from ${lists[0] ?? '-'} to ${lists.at(-1) ?? '-'} s`);
        if (client.challenge === 'dns-persist-01') {
          // Ordered again with the same account (as a renewal is): the records are in place, no DNS change is due.
          await stop();
          await Promise.all(files.map((f) => rm(join(folder, f), { force: true })));
          const changesBefore = proxy.count().ChangeResourceRecordSets ?? 0;
          const r0 = performance.now();
          await start();
          await until(`${count} files again`, async () => (await Promise.all(files.map((f) => exists(join(folder, f))))).every(Boolean),
            count * 4 * delayS * 1000 + 300_000, 50);
          row.reorder = { wallMs: performance.now() - r0, changes: (proxy.count().ChangeResourceRecordSets ?? 0) - changesBefore };
          say(`re-order: ${(row.reorder.wallMs / 1000).toFixed(1)} s, ${row.reorder.changes} changes`);
        }
      } catch (err) {
        say(`${client.name} ${count}: ${String(err)}\n${output.slice(-3000)}`);
        throw err;
      } finally {
        await stop();
        await proxy.close();
        await pebble.stop();
        // Their services go, so the next daemon's catalog holds only its own.
        await Promise.all(names.map((n) => fetch(`http://${env.consul.httpAddr}/v1/agent/service/deregister/${n}`, { method: 'PUT' }).catch(() => undefined)));
      }
    }
  }
} finally {
  await running.stop();
}

const target = 2 * delayS + 30;
const lines = [
  `Run: ${new Date().toISOString()}; Node ${process.version}; changes PENDING ${delayS} s after each ChangeResourceRecordSets; ` +
    `Pebble's natural validation delay; whole run ${((performance.now() - started) / 1000).toFixed(0)} s.`, '',
  '| client | certificates | wall time (registration → last file) | Route53 calls (clean-up included) | of them ChangeResourceRecordSets (before the last file) | GetChange | List* | ordered again (dns-persist-01): wall time, changes |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const list = Object.entries(r.calls).filter(([a]) => a.startsWith('List')).map(([a, n]) => `${a} ${n}`).join(', ');
    return `| ${r.client} | ${r.count} | ${(r.wallMs / 1000).toFixed(1)} s | ${r.total} | ` +
      `${r.calls.ChangeResourceRecordSets ?? 0} (${r.changesToLast}) | ${r.calls.GetChange ?? 0} | ${list} | ` +
      `${r.reorder ? `${(r.reorder.wallMs / 1000).toFixed(1)} s, ${r.reorder.changes}` : '–'} |`;
  }),
  '',
];
for (const hundred of rows.filter((r) => r.client.startsWith('whisper-ts now') && r.count === 100)) {
  const changes = hundred.calls.ChangeResourceRecordSets ?? 0;
  const s = hundred.wallMs / 1000;
  const verdict = (value: number, limit: number) => (value < limit ? `met by ${(limit - value).toFixed(1)} s` : `missed by ${(value - limit).toFixed(1)} s`);
  if (hundred.client.includes('dns-persist-01')) {
    const limit = delayS + 20;
    lines.push(`Target (${hundred.client}, 100 new names): under 1 × ${delayS} s + 20 s = ${limit} s: ${s.toFixed(1)} s, ${verdict(s, limit)}; ` +
      `at most 2 changes: ${changes}, ${changes <= 2 ? 'met' : 'missed'}.` +
      (hundred.reorder ? ` Ordered again: under 20 s: ${(hundred.reorder.wallMs / 1000).toFixed(1)} s, ${verdict(hundred.reorder.wallMs / 1000, 20)}; ` +
        `no change: ${hundred.reorder.changes}, ${hundred.reorder.changes === 0 ? 'met' : 'missed'}.` : ''), '');
  } else {
    lines.push(`Target (${hundred.client}, 100 certificates): under 2 × ${delayS} s + 30 s = ${target} s: ${s.toFixed(1)} s, ${verdict(s, target)}; ` +
      `at most 10 change calls: ${changes}, ${changes <= 10 ? 'met' : 'missed'}.`, '');
  }
}
const table = lines.join('\n');
console.log(table);
if (out) {
  const doc = await readFile(out, 'utf8');
  const at = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (at < 0 || end < at) throw new Error(`no ${START} … ${END} in ${out}`);
  await writeFile(out, `${doc.slice(0, at + START.length)}\n${table}\n${doc.slice(end)}`);
  say(`written to ${out}`);
}
