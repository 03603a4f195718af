import { describe, it, expect, inject } from 'vitest';
import { watch } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHaproxy, fetchServedCert, type Haproxy } from '../support/haproxy.js';
import { pebbleRoot } from '../support/pebble.js';
import { sans, splitPem } from '../support/certs.js';
import { deregisterService, eventually, fileOnce, kvGet, registerService, uniq, type WhisperProcess } from '../support/whisper.js';
import { daemonHarness } from '../support/harness.js';
import '../support/env-types.js';

const env = inject('env');
const { cleanups, daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'ft');

/** The certificate files of the folder (dot files left out) and the names each holds; a file read mid-change is skipped. */
async function snapshot(folder: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const file of (await readdir(folder).catch(() => [] as string[])).filter((f) => f.endsWith('.pem') && !f.startsWith('.')).sort()) {
    const pem = await readFile(join(folder, file), 'utf8').catch(() => undefined);
    // A file removed between the listing and the read is gone: it covers nothing.
    if (pem === undefined) continue;
    const leaf = splitPem(pem).certs[0];
    if (leaf) out.set(file, sans(leaf));
  }
  return out;
}

/**
 * Watches the folder while a transition happens: polls it every few milliseconds and records every moment a name of
 * `mustCover()` had no file, and the order of the file events (fs.watch) of certificate files.
 */
function observe(folder: string, mustCover: () => readonly string[]) {
  const gaps: string[] = [];
  const states: string[] = [];
  const events: string[] = [];
  const watcher = watch(folder, (_type, name) => {
    if (name && name.endsWith('.pem') && !name.startsWith('.')) events.push(name.toString());
  });
  let running = true;
  const loop = (async () => {
    while (running) {
      const snap = await snapshot(folder);
      const covered = new Set([...snap.values()].flat());
      const missing = mustCover().filter((n) => !covered.has(n));
      if (missing.length > 0) gaps.push(`${missing.join(',')} without a file among [${[...snap.keys()].join(', ')}]`);
      const state = [...snap.keys()].join(' ');
      if (states[states.length - 1] !== state) states.push(state);
      await sleep(3);
    }
  })();
  return {
    gaps,
    states,
    events,
    async stop() {
      running = false;
      await loop;
      watcher.close();
    },
  };
}

/**
 * Reloads HAProxy (master-worker SIGUSR2) and waits for the new worker's `Loading success`, signalling again when a
 * signal sent while the master was still busy with the last reload went unanswered.
 */
async function reload(haproxy: Haproxy): Promise<void> {
  const successes = () => (haproxy.process.logTail(100_000).match(/Loading success/g) ?? []).length;
  const before = successes();
  for (let attempt = 0; attempt < 3; attempt++) {
    process.kill(haproxy.process.pid, 'SIGUSR2');
    for (let i = 0; i < 60; i++) {
      await sleep(50);
      if (successes() > before) {
        await sleep(200);
        return;
      }
    }
  }
  throw new Error(`haproxy did not reload:\n${haproxy.process.logTail()}`);
}

/** Reloads HAProxy and checks, over TLS with SNI, that each name is served a certificate holding it. */
async function checkServed(haproxy: Haproxy, folder: string, names: readonly string[]): Promise<void> {
  await reload(haproxy);
  const root = await pebbleRoot(env.pebble);
  const intermediates = [...(await Promise.all((await readdir(folder)).filter((f) => f.endsWith('.pem') && !f.startsWith('.')).map((f) => readFile(join(folder, f), 'utf8').catch(() => ''))))]
    .flatMap((pem) => splitPem(pem).certs.slice(1).map((c) => c.toString()));
  for (const name of names) {
    const served = await fetchServedCert(haproxy.port, name, [root, ...intermediates].join('\n'));
    expect(String(served.subjectaltname).split(', '), `the certificate served for ${name}`).toContain(`DNS:${name}`);
  }
}

/** Waits for the notify key to change from `before`; returns its new value. */
async function nextNotify(key: string, before: string | undefined): Promise<string> {
  return eventually(`a bump of ${key}`, async () => {
    const now = await kvGet(env, key);
    return now !== undefined && now !== before ? now : undefined;
  }, 90_000);
}

/**
 * Follows the notify key until a bump names `file` (the removal's): after every bump, HAProxy is reloaded and every
 * name of `names` must be served a certificate holding it.
 */
async function followNotifies(key: string, before: string | undefined, file: string, haproxy: Haproxy, folder: string, names: () => readonly string[]): Promise<string> {
  let last = before;
  for (;;) {
    last = await nextNotify(key, last);
    await checkServed(haproxy, folder, names());
    if ((JSON.parse(last) as { files: string[] }).files.includes(file)) return last;
  }
}

const daemonArgs = (folder: string, zone: string) => [folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile,
  ...dnsArgs(zone), '--notify-interval', '1'];

describe('whisper\'s file names across a zone\'s growth and shrink', () => {
  it('one vhost → <vhost>.pem; a second → multi-hosts.pem, then the single file goes; and back; HAProxy serves every name throughout', async () => {
    const t = await folderAndZone();
    const notifyKey = `whisper-tests/${t.zone}`;
    const www = `www.${t.zone}`;
    const api = `api.${t.zone}`;
    const single = `${www}.pem`;
    const multi = `multi-hosts.${t.zone}.pem`;
    const w: WhisperProcess = daemon(daemonArgs(t.folder, t.zone));

    // One vhost: the file is the name, as whisper named it.
    await registerService(env, `front-${uniq()}`, [`dns=${t.zone}`, 'vhost=www', 'https=443']);
    await eventually(single, () => fileOnce(join(t.folder, single)));
    expect([...(await snapshot(t.folder)).entries()]).toEqual([[single, [www]]]);
    let notified = await nextNotify(notifyKey, undefined);
    const haproxy = await startHaproxy(t.base, t.folder);
    cleanups.push(() => haproxy.stop());
    await checkServed(haproxy, t.folder, [www]);

    // A second service with another vhost: multi-hosts is written, then the single file removed.
    const grow = observe(t.folder, () => [www]);
    const apiService = `api-${uniq()}`;
    await registerService(env, apiService, [`dns=${t.zone}`, 'vhost=api', 'ssl=offloading']);
    notified = await followNotifies(notifyKey, notified, single, haproxy, t.folder, () => [www]);
    await grow.stop();
    expect([...(await snapshot(t.folder)).entries()]).toEqual([[multi, [api, www]]]);
    await checkServed(haproxy, t.folder, [www, api]);
    expect(grow.gaps).toEqual([]);
    // Write before remove: multi-hosts appeared before the single file went.
    expect(grow.events.indexOf(multi)).toBeGreaterThanOrEqual(0);
    expect(grow.events.lastIndexOf(single)).toBeGreaterThan(grow.events.indexOf(multi));
    expect(grow.states[0]).toBe(single);
    expect(grow.states[grow.states.length - 1]).toBe(multi);
    expect(w.logs.find((l) => l.msg === `removed ${single}: ${multi} holds its names now`)).toBeDefined();

    // The second service goes: the single file is written again, then multi-hosts removed.
    const shrink = observe(t.folder, () => [www]);
    await deregisterService(env, apiService);
    await followNotifies(notifyKey, notified, multi, haproxy, t.folder, () => [www]);
    await shrink.stop();
    expect([...(await snapshot(t.folder)).entries()]).toEqual([[single, [www]]]);
    await checkServed(haproxy, t.folder, [www]);
    expect(shrink.gaps).toEqual([]);
    expect(shrink.events.indexOf(single)).toBeGreaterThanOrEqual(0);
    expect(shrink.events.lastIndexOf(multi)).toBeGreaterThan(shrink.events.indexOf(single));
    expect(shrink.states[0]).toBe(multi);
    expect(shrink.states[shrink.states.length - 1]).toBe(single);
    expect(w.child.exitCode).toBeNull();
    expect(await w.stop()).toBe(0);
  }, 240_000);

  it('--ha --store consul: the leader deletes the KV copy of the superseded file, and the follower removes its copy after writing the new one', async () => {
    const t = await folderAndZone();
    const www = `www.${t.zone}`;
    const single = `${www}.pem`;
    const multi = `multi-hosts.${t.zone}.pem`;
    const prefix = `whisper-tests/${t.zone}/certs`;
    const folders = [join(t.base, 'a'), join(t.base, 'b')];
    const procs = folders.map((folder) => daemon([...daemonArgs(folder, t.zone), '--ha', '--store', 'consul',
      '--lock-key', `whisper-tests/${t.zone}/leader`, '--store-prefix', prefix, '--session-ttl', '10']));
    const leader = await eventually('a leader', () => procs.find((w) => w.logs.some((l) => l.msg === 'acquired leadership')), 60_000);
    const follower = folders[procs.indexOf(leader) === 0 ? 1 : 0]!;

    await registerService(env, `front-${uniq()}`, [`dns=${t.zone}`, 'vhost=www', 'https=443']);
    await eventually('the single file in the follower\'s folder', () => fileOnce(join(follower, single)));
    const grow = observe(follower, () => [www]);
    const apiService = `api-${uniq()}`;
    await registerService(env, apiService, [`dns=${t.zone}`, 'vhost=api', 'https=443']);
    await eventually('the follower\'s folder holds multi-hosts only', async () => {
      const names = [...(await snapshot(follower)).keys()];
      return names.length === 1 && names[0] === multi ? true : undefined;
    }, 90_000);
    await grow.stop();
    expect(grow.gaps).toEqual([]);
    expect(grow.events.lastIndexOf(single)).toBeGreaterThan(grow.events.indexOf(multi));
    expect(await kvGet(env, `${prefix}/${www}`)).toBeUndefined();
    expect(await kvGet(env, `${prefix}/multi-hosts.${t.zone}`)).toBeDefined();

    const shrink = observe(follower, () => [www]);
    await deregisterService(env, apiService);
    await eventually('the follower\'s folder holds the single file only', async () => {
      const names = [...(await snapshot(follower)).keys()];
      return names.length === 1 && names[0] === single ? true : undefined;
    }, 90_000);
    await shrink.stop();
    expect(shrink.gaps).toEqual([]);
    expect(shrink.events.lastIndexOf(multi)).toBeGreaterThan(shrink.events.indexOf(single));
    for (const w of procs) expect(await w.stop()).toBe(0);
  }, 240_000);

  it('never removes a file whisper-ts did not write (whisper\'s): it warns that HAProxy has two certificates', async () => {
    const t = await folderAndZone();
    const www = `www.${t.zone}`;
    const single = `${www}.pem`;
    const multi = `multi-hosts.${t.zone}.pem`;
    // whisper's folder: a valid certificate for the zone's single name (here issued by a first run) and the account
    // key, but no state of whisper-ts.
    const first = daemon(daemonArgs(t.folder, t.zone));
    await registerService(env, `front-${uniq()}`, [`dns=${t.zone}`, 'vhost=www', 'https=443']);
    const pem = await eventually(single, () => fileOnce(join(t.folder, single)));
    expect(await first.stop()).toBe(0);
    await rm(join(t.folder, '.whisper-state.json'));

    const w = daemon(daemonArgs(t.folder, t.zone));
    await registerService(env, `api-${uniq()}`, [`dns=${t.zone}`, 'vhost=api', 'https=443']);
    await eventually(multi, () => fileOnce(join(t.folder, multi)));
    const warning = await eventually('the duplicate warning', () => w.logs.find((l) => l.level === 40 && l.file === single));
    expect(String(warning.msg)).toContain(`${single} and ${multi} both hold ${www}: HAProxy now has two certificates for those names`);
    expect(String(warning.msg)).toContain(`remove it once ${multi} is served`);
    expect(warning.by).toEqual([multi]);
    // Still there, unchanged, after the write and its check.
    await sleep(1500);
    expect(await fileOnce(join(t.folder, single))).toBe(pem);
    expect(w.logs.find((l) => String(l.msg).startsWith(`removed ${single}`))).toBeUndefined();
    expect(await w.stop()).toBe(0);
  }, 180_000);
});
