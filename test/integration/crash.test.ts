import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createZone, sans, splitPem, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess, cleanupAfterAll } from '../support/whisper.js';
import { startPebble } from '../support/pebble.js';
import type { TestEnv } from '../support/env-types.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();
const stopPebbles: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stopPebbles) await stop();
});

async function setup(prefix: string) {
  const zone = `${prefix}${uniq()}.whisper.test`;
  const zoneId = await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-crash-'));
  dirs.push(base);
  const folder = join(base, 'certs');
  // Orders killed mid-validation and placed again at once: on a Pebble of their own, since that can deadlock
  // Pebble's store (letsencrypt/pebble#554) for the other tests of the run.
  const pebble = await startPebble({ dir: base, name: `pebble-crash-${uniq()}`, dnsServer: env.dnsFront.addr });
  stopPebbles.push(() => pebble.stop());
  const own: TestEnv = { ...env, pebble: { ...env.pebble, directoryUrl: pebble.directoryUrl, managementUrl: pebble.managementUrl, tlsCaFile: pebble.tlsCaFile } };
  const args = [folder, ...envArgs(own), '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint,
    '--allow-domain', zone, '--notify', `whisper-tests/${zone}`, '--concurrency', '10'];
  return { zone, zoneId, folder, args, env: own };
}

function start(args: string[]): WhisperProcess {
  const w = startWhisper(args);
  running.push(w);
  return w;
}

async function challengeTxt(zoneId: string): Promise<Map<string, string[]>> {
  const all = await zoneTxt(env, zoneId);
  return new Map([...all].filter(([name]) => name.startsWith('_acme-challenge')));
}

/** Polls until the zone holds a challenge record, as fast as the emulator answers. */
async function firstChallenge(zoneId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await challengeTxt(zoneId)).size === 0) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a challenge TXT record');
    await sleep(5);
  }
}

/** What a reader of the folder may find under a final name: whole files only. */
function checkFile(name: string, text: string): string | undefined {
  if (name.endsWith('.tmp')) return undefined; // an atomic write in progress, never under a final name
  try {
    // The history database and its SQLite companions: written by SQLite's own journaling, never read as text.
    if (/^\.whisper-history\.sqlite(-wal|-shm|-journal)?$/.test(name)) return undefined;
    if (name.endsWith('.json') || name === '.whisper.lock') {
      JSON.parse(text);
      return undefined;
    }
    if (name === '.acme') {
      const { keys, certs } = splitPem(text);
      return keys.length === 1 && certs.length === 0 ? undefined : `${name}: not one key`;
    }
    if (!name.startsWith('.') && name.endsWith('.pem')) {
      const { keys, certs } = splitPem(text);
      if (keys.length !== 1 || certs.length < 2 || !text.trimStart().startsWith('-----BEGIN') || !text.trimEnd().endsWith('-----')) {
        return `${name}: ${keys.length} keys and ${certs.length} certificates`;
      }
      return undefined;
    }
  } catch (err) {
    return `${name}: ${(err as Error).message}`;
  }
  return `${name}: a file nobody should write here`;
}

/** Reads every file of `folder` every ~10 ms and records any it sees incomplete or unknown. */
function watchFolder(folder: string): { stop(): Promise<string[]>; pemReads: () => number } {
  const problems: string[] = [];
  let pemReads = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names) {
        let text: string;
        try {
          text = await readFile(join(folder, name), 'utf8');
        } catch {
          continue; // renamed or removed since the listing
        }
        if (name.endsWith('.pem')) pemReads++;
        const problem = checkFile(name, text);
        if (problem !== undefined) problems.push(problem);
      }
      await sleep(10);
    }
  })();
  return {
    pemReads: () => pemReads,
    async stop() {
      stopped = true;
      await loop;
      return problems;
    },
  };
}

describe('crash safety', () => {
  it('kill -9 mid-issuance: files are always whole, the restart removes the orphan records and issues everything', async () => {
    const t = await setup('k');
    const watcher = watchFolder(t.folder);
    const names = Array.from({ length: 10 }, (_, i) => `c${i}-${uniq()}`);
    for (const name of names) await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);

    const first = start(t.args);
    await firstChallenge(t.zoneId);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    const orphans = await challengeTxt(t.zoneId);
    expect(orphans.size).toBeGreaterThan(0);
    const journal = JSON.parse(await readFile(join(t.folder, '.whisper-challenges.json'), 'utf8')) as { records: Array<{ fqdn: string }> };
    for (const fqdn of orphans.keys()) expect(journal.records.map((r) => r.fqdn)).toContain(fqdn);

    const second = start(t.args);
    const cleaned = await eventually('the journal clean-up', () => second.logs.find((l) => l.msg === 'challenge TXT records of an earlier run removed'));
    expect(cleaned.count).toBe(journal.records.length);
    // The clean-up ran before the restarted daemon ordered anything.
    const firstOrder = second.logs.findIndex((l) => l.msg === 'ordering certificate');
    expect(firstOrder === -1 || firstOrder > second.logs.indexOf(cleaned)).toBe(true);

    for (const name of names) {
      const pem = await eventually(`${name}.${t.zone}.pem`, () => fileOnce(join(t.folder, `${name}.${t.zone}.pem`)), 90_000);
      expect(sans(await verifyAgainstPebble(t.env, pem))).toEqual([`${name}.${t.zone}`]);
    }
    await eventually('no challenge TXT record left', async () => ((await challengeTxt(t.zoneId)).size === 0 ? true : undefined));
    expect(await second.stop()).toBe(0);
    expect(await fileOnce(join(t.folder, '.whisper-challenges.json'))).toBeUndefined();
    expect(watcher.pemReads()).toBeGreaterThanOrEqual(10);
    expect(await watcher.stop()).toEqual([]);
  }, 120_000);

  it('SIGTERM with orders in flight: exit code 0 within 10 s and no challenge record left', async () => {
    const t = await setup('t');
    for (let i = 0; i < 5; i++) await registerService(env, `t${i}-${uniq()}`, [`dns=${t.zone}`, 'ssl=offloading']);
    const w = start(t.args);
    await firstChallenge(t.zoneId);
    const sent = Date.now();
    w.child.kill('SIGTERM');
    const code = await Promise.race([w.exited, sleep(10_000).then(() => 'still running')]);
    expect(code).toBe(0);
    expect(Date.now() - sent).toBeLessThan(10_000);
    expect([...(await challengeTxt(t.zoneId)).keys()]).toEqual([]);
    expect(await fileOnce(join(t.folder, '.whisper-challenges.json'))).toBeUndefined();
    expect(w.logs.some((l) => l.msg === 'whisper-ts stopped')).toBe(true);
  }, 60_000);

  it('the temporary files a killed run left are removed at start, with their count; other files are kept', async () => {
    const t = await setup('m');
    await mkdir(t.folder, { recursive: true, mode: 0o700 });
    // What `kill -9` during writes leaves: ours are `.<file>.<12 hex digits>.tmp`.
    const ours = [`.www.${t.zone}.pem.0123456789ab.tmp`, '..whisper-state.json.ba9876543210.tmp'];
    const foreign = ['.foo.tmp', `.www.${t.zone}.pem.tmp`, 'notes.txt'];
    for (const name of [...ours, ...foreign]) await writeFile(join(t.folder, name), 'left over');
    const w = start(t.args);
    const removed = await eventually('the temporary-file clean-up', () =>
      w.logs.find((l) => typeof l.count === 'number' && /temporary file/.test(String(l.msg))), 30_000,
    );
    expect(removed.count).toBe(ours.length);
    const left = await readdir(t.folder);
    for (const name of ours) expect(left).not.toContain(name);
    for (const name of foreign) expect(left).toContain(name);
    expect(await w.stop()).toBe(0);
  }, 60_000);
});
