import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, silentLogger, type Logger } from '../../../src/log.js';
import { WhisperError } from '../../../src/errors.js';
import { buildConfig } from '../../../src/config.js';
import { encodeState, decodeState } from '../../../src/state/codec.js';
import { loadState, saveState, statePath } from '../../../src/state/file.js';
import type { WhisperState } from '../../../src/state/types.js';
import { createFolderStore } from '../../../src/store/folder.js';
import type { ConsulApi } from '../../../src/consul/api.js';
import type { AccountRecord } from '../../../src/store/types.js';
import { stateKvKey, type SharedState } from '../../../src/ha/kv-state.js';
import { accountKvKey } from '../../../src/ha/kv-account.js';
import { kvCodec, parseKeyFile } from '../../../src/ha/kv-crypto.js';
import { followAccount, followState } from '../../../src/ha/kv-follow.js';
import { runHa } from '../../../src/ha/run.js';
import { makeKey } from '../store/x509-fixture.js';
import { FakeTimers } from '../consul/fakes.js';
import { fakeKv } from './fake-kv.js';
import { fakeSessionConsul, sleepOn } from './fake-ha.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const LOCK = 'whisper/leader';
const STATE = stateKvKey(LOCK);
const ACCOUNT = accountKvKey(LOCK);
const DIRECTORY = 'https://ca.test/directory';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-kv-follow-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const state = (n: number): WhisperState => ({
  budget: Array.from({ length: n }, (_, i) => ({ type: 'order' as const, at: T0 + i * 1000, names: [`h${i}.example.com`] })),
  certs: { 'h0.example.com': { nextRenewal: new Date(T0 + 86_400_000), ca: DIRECTORY } },
});
const inKv = (s: WhisperState) => encodeState(s, { compact: true });
const accountValue = (a: AccountRecord) => JSON.stringify({ version: 1, key: a.key, urls: a.urls });
const ring = (...ids: number[]) => parseKeyFile(ids.map((i) => `k${i}:${Buffer.alloc(32, i).toString('base64')}`).join('\n'), '/etc/whisper/kv.keys');

function logLines(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ destination }), lines: () => raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Polls `check` (files are written by real I/O) until it holds, for up to 5 s. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
  expect(await check()).toBe(true);
}

const fileState = async (d = dir): Promise<WhisperState | undefined> =>
  fsp.readFile(statePath(d), 'utf8').then(decodeState, () => undefined);
const fileHas = (n: number, d = dir) => async () => (await fileState(d))?.budget.length === n;

describe('a follower keeps a copy of the state in Consul KV (--ha)', () => {
  it('writes its state file each time the leader\'s state in KV changes, and keeps it when the key goes away', async () => {
    const kv = fakeKv();
    kv.put(STATE, inKv(state(2)));
    const saves: number[] = [];
    const saveFile = async (d: string, s: WhisperState) => {
      saves.push(s.budget.length);
      await saveState(d, s);
    };
    const ac = new AbortController();
    const folder = path.join(dir, 'not-yet');
    const run = followState({ api: kv.api, key: STATE, dir: folder, log: silentLogger(), sleep: async () => undefined, saveFile }, ac.signal);
    // The folder need not exist yet: a follower may never have written anything.
    await until(fileHas(2, folder));
    expect(await fileState(folder)).toEqual(state(2));
    kv.put(STATE, inKv(state(3)));
    await until(fileHas(3, folder));
    // The same value written again (a new ModifyIndex): nothing to write.
    kv.put(STATE, inKv(state(3)));
    await until(() => kv.calls.filter((c) => c === `read ${STATE}`).length >= 4);
    // The key deleted, then the whole KV lost: the copy stays.
    kv.remove(STATE);
    kv.clear();
    await until(() => kv.calls.filter((c) => c === `read ${STATE}`).length >= 6);
    expect(await fileState(folder)).toEqual(state(3));
    ac.abort();
    await run;
    expect(saves).toEqual([2, 3]);
  });

  it('does not rewrite a state file that already holds the KV state (a restart, a folder the leader wrote)', async () => {
    const kv = fakeKv();
    kv.put(STATE, inKv(state(2)));
    await saveState(dir, state(2));
    const saves: number[] = [];
    const ac = new AbortController();
    const run = followState({ api: kv.api, key: STATE, dir, log: silentLogger(), sleep: async () => undefined, saveFile: async (_d, s) => void saves.push(s.budget.length) }, ac.signal);
    await until(() => kv.calls.filter((c) => c === `read ${STATE}`).length >= 2);
    ac.abort();
    await run;
    expect(saves).toEqual([]);
  });

  it('an unreadable state in KV is a warning naming the key, once; the file is kept', async () => {
    const kv = fakeKv();
    await saveState(dir, state(1));
    kv.put(STATE, '{"version":1,"budget":"nope"}');
    const { log, lines } = logLines();
    const ac = new AbortController();
    const run = followState({ api: kv.api, key: STATE, dir, log, sleep: async () => undefined }, ac.signal);
    await until(() => lines().some((l) => l.level === 40));
    // The same value written again: no second warning.
    kv.put(STATE, '{"version":1,"budget":"nope"}');
    await until(() => kv.calls.filter((c) => c === `read ${STATE}`).length >= 3);
    ac.abort();
    await run;
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ key: STATE, code: 'STORE_CORRUPT' });
    expect(await fileState()).toEqual(state(1));
  });

  it('a failed write of the file is retried after a backoff; a Consul failure too, re-reading without blocking', async () => {
    const kv = fakeKv();
    kv.put(STATE, inKv(state(2)));
    let fail = 1;
    const sleeps: number[] = [];
    const saveFile = async (d: string, s: WhisperState) => {
      if (fail-- > 0) throw new WhisperError('STORE_WRITE', `cannot write ${statePath(d)}: disk full`, { retryable: true });
      await saveState(d, s);
    };
    const ac = new AbortController();
    // Consul is back by the end of the backoff.
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      kv.state.down = false;
    };
    const run = followState({ api: kv.api, key: STATE, dir, log: silentLogger(), sleep, saveFile }, ac.signal);
    await until(fileHas(2));
    expect(sleeps).toHaveLength(1);
    kv.state.down = true;
    kv.put(STATE, inKv(state(3)));
    await until(fileHas(3));
    expect(sleeps).toHaveLength(2);
    ac.abort();
    await run;
  });
});

describe('a follower keeps a copy of the cluster\'s ACME account (--ha)', () => {
  it('writes the account from KV into its .acme and .acme.json, decrypting it, and follows new URLs', async () => {
    const kv = fakeKv();
    const codec = kvCodec(ring(1));
    const account = { key: makeKey().pem, urls: { [DIRECTORY]: 'https://ca.test/acct/1' } };
    kv.put(ACCOUNT, codec.encode(ACCOUNT, accountValue(account)));
    const folder = createFolderStore(dir);
    const ac = new AbortController();
    const run = followAccount({ api: kv.api, key: ACCOUNT, folder, codec, log: silentLogger(), sleep: async () => undefined }, ac.signal);
    await until(async () => (await folder.readAccount().catch(() => undefined)) !== undefined);
    expect(await folder.readAccount()).toEqual(account);
    const more = { key: account.key, urls: { ...account.urls, 'https://other.test/directory': 'https://other.test/acct/9' } };
    kv.put(ACCOUNT, codec.encode(ACCOUNT, accountValue(more)));
    await until(async () => Object.keys((await folder.readAccount())?.urls ?? {}).length === 2);
    ac.abort();
    await run;
    expect(await folder.readAccount()).toEqual(more);
  });

  it('an account it cannot decrypt is a KV_DECRYPT warning naming the key; nothing is written', async () => {
    const kv = fakeKv();
    kv.put(ACCOUNT, kvCodec(ring(2)).encode(ACCOUNT, accountValue({ key: makeKey().pem, urls: {} })));
    const { log, lines } = logLines();
    const folder = createFolderStore(dir);
    const ac = new AbortController();
    const run = followAccount({ api: kv.api, key: ACCOUNT, folder, codec: kvCodec(ring(1)), log, sleep: async () => undefined }, ac.signal);
    await until(() => lines().some((l) => l.level === 40));
    ac.abort();
    await run;
    expect(lines().filter((l) => l.level === 40)).toMatchObject([{ key: ACCOUNT, code: 'KV_DECRYPT' }]);
    expect(await folder.readAccount()).toBeUndefined();
  });
});

const noFiles = (f: string): string => {
  throw new Error(`unexpected read of ${f}`);
};

describe('runHa: a follower\'s copies when Consul KV is lost', () => {
  it('a follower keeps the state and the account from KV; leading after KV was emptied, it publishes them, its budget history intact', async () => {
    const kv = fakeKv();
    // This instance's own state file is from long ago (its last leadership).
    await saveState(dir, state(1));
    // Another instance leads and has written the state and the account.
    kv.put(LOCK, '{"host":"other"}', 'other');
    const account = { key: makeKey().pem, urls: { [DIRECTORY]: 'https://ca.test/acct/1' } };
    kv.put(ACCOUNT, accountValue(account));
    kv.put(STATE, inKv(state(3)));
    const ha = fakeSessionConsul();
    const consul = {
      ...ha.api,
      ...kv.api,
      catalogServices: () => Promise.reject(new Error('a follower does not watch the catalog')),
      kvGet: async () => undefined,
      leader: async () => '127.0.0.1:8300',
    } as unknown as ConsulApi;
    const timers = new FakeTimers();
    const config = buildConfig(dir, { ha: true }, { env: {}, cwd: dir, readFile: noFiles });
    const led: Array<{ state: WhisperState; account: AccountRecord | undefined }> = [];
    const stop = new AbortController();
    const run = runHa(
      {
        config,
        log: silentLogger(),
        consul,
        folder: createFolderStore(dir),
        sleep: sleepOn(timers),
        timers,
        now: () => timers.now,
        pipeline: async (s, parts) => {
          const sharedState: SharedState = parts.sharedState!;
          const loaded = await sharedState.load(() => loadState(dir, { now: () => T0 }), s);
          led.push({ state: loaded.state, account: await parts.store.readAccount() });
          await new Promise((resolve) => s.addEventListener('abort', resolve, { once: true }));
        },
      },
      stop.signal,
    );
    await until(fileHas(3));
    kv.put(STATE, inKv(state(4)));
    await until(fileHas(4));
    await until(async () => (await createFolderStore(dir).readAccount().catch(() => undefined)) !== undefined);
    expect(await createFolderStore(dir).readAccount()).toEqual(account);
    expect(led).toEqual([]);

    // Consul comes back empty (a dev agent restarted, a cluster rebuilt): the lock is free, and this instance leads.
    kv.clear();
    await until(() => led.length === 1);
    expect(led[0]!.state).toEqual(state(4));
    expect(led[0]!.account).toEqual(account);
    // It published its copies: the next leader finds the whole history and the same account.
    expect(decodeState(kv.get(STATE)!)).toEqual(state(4));
    expect(JSON.parse(kv.get(ACCOUNT)!)).toEqual({ version: 1, ...account });
    // While it leads, its follower no longer writes the folder (the leader's keeper does).
    kv.put(STATE, inKv(state(9)));
    await new Promise((r) => setTimeout(r, 50));
    expect(await fileState()).toEqual(state(4));
    stop.abort();
    await run;
  });
});
