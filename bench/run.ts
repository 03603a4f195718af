/**
 * Benchmarks whisper-ts against lego and certbot on the test fixture (Pebble + BIND), and at scale.
 * `npx tsx bench/run.ts [--tiny] [--out <file>]`: writes the results between the markers of bench/README.md (or `--out`).
 * `--scale`: only the scale measure, printed; `--profile <dir>`: the same, with a V8 CPU profile of the restarted daemon in `<dir>`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestEnv } from '../test/support/test-env.js';
import { binaries } from '../test/support/paths.js';
import { createCertbot, createLego, versionOf } from './lib/peers.js';
import { peerSequence, type PeerRuns } from './lib/measure-peers.js';
import { whisperSingle, whisperThroughput } from './lib/measure-whisper.js';
import { scaleAndIdle } from './lib/measure-scale.js';
import { mean, median, ms, quantile, ratio, secs } from './lib/stats.js';

const tiny = process.argv.includes('--tiny');
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? resolve(process.argv[outArg + 1]!) : resolve(import.meta.dirname, 'README.md');
const size = tiny
  ? { single: 2, counts: [1, 2], concurrency: 20, scale: { services: 200, tagged: 10, files: 50, changes: 2, idleMs: 3000 } }
  : { single: 10, counts: [20, 100], concurrency: 20, scale: { services: 10_000, tagged: 1000, files: 5000, changes: 20, idleMs: 60_000 } };
const profArg = process.argv.indexOf('--profile');
const profileDir = profArg > 0 ? resolve(process.argv[profArg + 1]!) : undefined;
const say = (m: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);
const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

const started = performance.now();
const running = await startTestEnv();
const { env } = running;
if (profileDir || process.argv.includes('--scale')) {
  // Only the scale measure, over 30 changes, printed (the README is left alone); with `--profile`, the restarted
  // daemon writes a V8 CPU profile (see bench/README.md).
  try {
    const s = await scaleAndIdle(env, { ...size.scale, changes: 30, idleMs: 1000, ...(profileDir ? { profileDir } : {}) }, say);
    say(`peak RSS ${s.peakRssMb.toFixed(0)} MB; start-up ${s.startupMs.toFixed(0)} ms, peak RSS after it ${s.startupPeakRssMb.toFixed(0)} MB`);
    say(`CPU per change: ${s.changeCpuMs.join(', ')} ms (median ${median(s.changeCpuMs)} ms)${profileDir ? `; profiles in ${profileDir}` : ''}`);
    say(`CPU per re-tag of a service with a certificate: ${s.taggedChangeCpuMs.join(', ')} ms (median ${median(s.taggedChangeCpuMs)} ms)`);
    say(`until idle, per change: ${s.changeAmortizedCpuMs.toFixed(1)} ms (new service), ${s.taggedAmortizedCpuMs.toFixed(1)} ms (re-tag)`);
  } finally {
    await running.stop();
  }
  process.exit(0);
}
const lines: string[] = [];
try {
  const tag = `b${Date.now().toString(36)}`;
  const versions = {
    node: process.version,
    whisper: JSON.parse(await readFile(resolve(import.meta.dirname, '../package.json'), 'utf8')).version as string,
    lego: await versionOf('lego', ['--version']),
    certbot: await versionOf('certbot', ['--version']),
    pebble: await versionOf(binaries().pebble, ['-version']),
  };
  const maxCount = Math.max(...size.counts);

  say('peers: lego and certbot, one command per certificate, in sequence (the two peers run side by side)');
  const peers: PeerRuns[] = await Promise.all([
    createLego(env, join(env.runDir, 'lego')).then((p) => peerSequence(p, env.bind.zone, maxCount, `${tag}-lego`)),
    createCertbot(env, join(env.runDir, 'certbot')).then((p) => peerSequence(p, env.bind.zone, maxCount, `${tag}-certbot`)),
  ]);
  for (const p of peers) say(`${p.name}: ${p.runs.length} certificates${p.error ? `, failed: ${p.error}` : ''}`);

  say('whisper-ts single certificate (rfc2136 and route53)');
  const w2136 = await whisperSingle(env, 'rfc2136', size.single, `${tag}-ws`);
  const wr53 = await whisperSingle(env, 'route53', size.single, `${tag}-wr`);
  const through: Record<number, number> = {};
  for (const n of size.counts) {
    say(`whisper-ts throughput ${n}`);
    through[n] = await whisperThroughput(env, n, `${tag}-wt${n}`, size.concurrency);
  }
  say('scale and idle');
  const scale = await scaleAndIdle(env, size.scale, say);

  // Tables.
  const lego = peers.find((p) => p.name === 'lego')!;
  const certbot = peers.find((p) => p.name === 'certbot')!;
  const firstN = (p: PeerRuns, n: number) => (p.runs.length >= n ? p.runs.slice(0, n).reduce((a, b) => a + b, 0) : Number.NaN);
  lines.push(`Run: ${new Date().toISOString()}${tiny ? ' (**--tiny**: sizes too small to mean anything)' : ''}; ` +
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ` +
    `whisper-ts ${versions.whisper} on Node ${versions.node}; ${versions.lego}; ${versions.certbot}; pebble ${versions.pebble}.`, '');
  for (const p of peers) if (p.error) lines.push(`**${p.name} failed** after ${p.runs.length} certificates: \`${p.error.replace(/\s+/g, ' ').replace(/\/(tmp|work|root|home)\/\S*/g, '<path>').slice(-300)}\``, '');
  lines.push('### 1. Single certificate latency', '', '| client | runs | median | p95 |', '|---|---|---|---|');
  const row = (name: string, v: number[]) => lines.push(`| ${name} | ${v.length} | ${ms(median(v))} | ${ms(quantile(v, 0.95))} |`);
  row('whisper-ts, rfc2136 (registration → file + notify)', w2136.latency);
  row('whisper-ts, route53 emulator', wr53.latency);
  row('lego run, rfc2136', lego.runs.slice(0, size.single));
  row('certbot certonly, rfc2136', certbot.runs.slice(0, size.single));
  lines.push('', `whisper-ts vs lego (median): ${ratio(median(lego.runs.slice(0, size.single)), median(w2136.latency))} faster; ` +
    `vs certbot: ${ratio(median(certbot.runs.slice(0, size.single)), median(w2136.latency))} faster.`, '');
  lines.push('### 2. Throughput', '', '| certificates | whisper-ts (all registered at once) | lego (in sequence) | certbot (in sequence) | vs lego | vs certbot |', '|---|---|---|---|---|---|');
  for (const n of size.counts) {
    const w = through[n]!;
    const l = firstN(lego, n);
    const c = firstN(certbot, n);
    const rate = (t: number) => (Number.isFinite(t) ? `${secs(t)} (${((n * 1000) / t).toFixed(2)} certs/s)` : 'n/a');
    lines.push(`| ${n} | ${rate(w)} | ${rate(l)} | ${rate(c)} | ${ratio(l, w)} | ${ratio(c, w)} |`);
  }
  lines.push('', `whisper-ts with \`--concurrency ${size.concurrency}\`. The peers' ${size.counts[0]} are the first ${size.counts[0]} commands of their ${maxCount}.`, '');
  const react = [...w2136.reaction, ...wr53.reaction];
  lines.push('### 3. Reaction latency (registration → first request at the CA)', '',
    `${react.length} registrations: median ${ms(median(react))}, p99 ${ms(quantile(react, 0.99))}, max ${ms(Math.max(...react))}.`, '');
  const s = scale;
  lines.push('### 4. Scale', '', '| measure | value |', '|---|---|',
    `| catalog | ${size.scale.services} services, ${size.scale.tagged} with a certificate |`,
    `| issuing the ${size.scale.tagged} (PEBBLE_VA_ALWAYS_VALID, concurrency 20) | ${secs(s.issueMs)} |`,
    `| peak RSS (VmHWM) after issuing | ${s.peakRssMb.toFixed(0)} MB |`,
    `| CPU per single-service catalog change: a new service without certificate (${s.changeCpuMs.length} changes; each: ${s.changeCpuMs.map((v) => v.toFixed(0)).join(', ')} ms) | median ${ms(median(s.changeCpuMs))}, mean ${ms(mean(s.changeCpuMs))}; with the GC done after the last window, until idle: ${ms(s.changeAmortizedCpuMs)} per change (idle baseline over 0.5 s: ${ms(s.baselineCpuMs)}) |`,
    `| the same, a service with a certificate re-tagged, its certificate unchanged (${s.taggedChangeCpuMs.length} changes; each: ${s.taggedChangeCpuMs.map((v) => v.toFixed(0)).join(', ')} ms) | median ${ms(median(s.taggedChangeCpuMs))}, mean ${ms(mean(s.taggedChangeCpuMs))}; until idle: ${ms(s.taggedAmortizedCpuMs)} per change |`,
    `| start-up with ${size.scale.files} certificates in the folder, to every wanted one planned | ${ms(s.startupMs)} (orders: ${s.startupOrders}) |`,
    `| peak RSS after that start-up | ${s.startupPeakRssMb.toFixed(0)} MB |`, '');
  lines.push(`### 5. Idle (${(size.scale.idleMs / 1000).toFixed(0)} s, nothing to do, same daemon)`, '',
    `CPU ${(s.idle.cpuMs / 1000).toFixed(2)} s; requests to Consul: ${s.idle.consul} (${s.idle.consulBlocking} blocking queries), to the CA: ${s.idle.ca}.`,
    `Consul paths: ${s.idle.paths.map((p) => `\`${p}\``).join(', ') || 'none'}.`, '',
    `Whole run: ${secs(performance.now() - started)}.`);
} finally {
  await running.stop();
}
const table = lines.join('\n');
console.log(table);
const doc = await readFile(out, 'utf8').catch(() => `${START}\n${END}\n`);
const at = doc.indexOf(START);
const end = doc.indexOf(END);
const next = at >= 0 && end > at ? `${doc.slice(0, at + START.length)}\n${table}\n${doc.slice(end)}` : `${doc}\n${START}\n${table}\n${END}\n`;
await writeFile(out, next);
say(`results written to ${out}`);
