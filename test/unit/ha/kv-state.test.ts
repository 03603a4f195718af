import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, silentLogger, type Logger } from '../../../src/log.js';
import { WhisperError } from '../../../src/errors.js';
import { encodeState, decodeState } from '../../../src/state/codec.js';
import { loadState, statePath } from '../../../src/state/file.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import type { WhisperState } from '../../../src/state/types.js';
import { CONSUL_KV_MAX_BYTES } from '../../../src/ha/kv-store.js';
import { createKvState, stateKvKey } from '../../../src/ha/kv-state.js';
import { failure } from '../failure.js';
import { fakeKv } from './fake-kv.js';
import { FakeTimers } from '../consul/fakes.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const KEY = stateKvKey('whisper/leader');

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-kv-state-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const state = (n: number): WhisperState => ({
  budget: Array.from({ length: n }, (_, i) => ({ type: 'order' as const, at: T0 + i * 1000, names: [`h${i}.example.com`] })),
  certs: { 'h0.example.com': { nextRenewal: new Date(T0 + 86_400_000), ca: 'https://ca.test/directory' } },
});

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

const local = (s: WhisperState) => async () => ({ state: s });
const shared = (kv: ReturnType<typeof fakeKv>, log: Logger = silentLogger()) =>
  createKvState({ api: kv.api, key: KEY, dir, log, sleep: async () => undefined });

describe('the state in Consul KV (--ha)', () => {
  it('lives beside the lock key', () => {
    expect(KEY).toBe('whisper/leader/state');
  });

  it('a new leader starts from the KV copy (the last leader\'s budget and renewal times) and caches it in its file', async () => {
    const kv = fakeKv();
    kv.put(KEY, encodeState(state(3)));
    const loaded = await shared(kv).load(local(state(1)));
    expect(loaded.state).toEqual(state(3));
    expect(decodeState(await fsp.readFile(statePath(dir), 'utf8'))).toEqual(state(3));
  });

  it('without a KV copy (the first leader, an upgrade), starts from its file and publishes it at once', async () => {
    const kv = fakeKv();
    const loaded = await shared(kv).load(local(state(2)));
    expect(loaded.state).toEqual(state(2));
    expect(decodeState(kv.get(KEY)!)).toEqual(state(2));
    expect(kv.calls).toContain(`cas ${KEY} 0`);
  });

  it('an unreadable KV copy is a warning naming the key; the file is used and replaces it', async () => {
    const kv = fakeKv();
    kv.put(KEY, '{"version":1,"budget":"nope"}');
    const { log, lines } = logLines();
    const loaded = await shared(kv, log).load(local(state(2)));
    expect(loaded.state).toEqual(state(2));
    expect(lines().find((l) => l.level === 40 && String(l.msg).includes(KEY))).toMatchObject({ code: 'STORE_CORRUPT' });
    expect(decodeState(kv.get(KEY)!)).toEqual(state(2));
  });

  it('waits for Consul at leadership rather than starting without the shared state', async () => {
    const kv = fakeKv();
    kv.put(KEY, encodeState(state(3)));
    kv.state.down = true;
    const sleeps: number[] = [];
    const s = createKvState({ api: kv.api, key: KEY, dir, log: silentLogger(), sleep: async (ms) => {
      sleeps.push(ms);
      kv.state.down = false;
    } });
    expect((await s.load(local(state(1)))).state).toEqual(state(3));
    expect(sleeps).toHaveLength(1);
  });

  it('the keeper writes each change to the file and to KV (debounced like the file)', async () => {
    const kv = fakeKv();
    const s = shared(kv);
    const loaded = await s.load(local(state(0)));
    const saved: number[] = [];
    const save = async (d: string, st: WhisperState) => {
      saved.push(st.budget.length);
      await s.save(d, st);
    };
    const keeper = new StateKeeper(dir, loaded.state, silentLogger(), save, { timers: new FakeTimers() });
    keeper.setBudget(state(1).budget);
    keeper.setBudget(state(2).budget);
    keeper.setBudget(state(3).budget);
    await keeper.flush();
    // A burst costs two writes: the first change at once, the others together.
    expect(saved).toEqual([1, 3]);
    expect(decodeState(kv.get(KEY)!).budget).toHaveLength(3);
    expect(decodeState(await fsp.readFile(statePath(dir), 'utf8')).budget).toHaveLength(3);
  });

  it('a leader that lost the KV copy to a newer leader stops writing it (the file is still written)', async () => {
    const kv = fakeKv();
    const { log, lines } = logLines();
    const old = shared(kv, log);
    await old.load(local(state(1)));
    await old.save(dir, state(2));
    // A new leader takes over and writes.
    const next = shared(kv);
    await next.load(local(state(0)));
    await next.save(dir, state(5));
    await old.save(dir, state(3));
    await old.save(dir, state(4));
    expect(decodeState(kv.get(KEY)!)).toEqual(state(5));
    expect(decodeState(await fsp.readFile(statePath(dir), 'utf8'))).toEqual(state(4));
    expect(lines().filter((l) => l.level === 40 && String(l.msg).includes('another instance'))).toHaveLength(1);
  });

  it('a leader that lost leadership writes its last state to the file only; a leader that is stopping, to KV too', async () => {
    const kv = fakeKv();
    const stop = new AbortController();
    const term = new AbortController();
    const lost = createKvState({ api: kv.api, key: KEY, dir, log: silentLogger(), sleep: async () => undefined, stop: stop.signal });
    await lost.load(local(state(1)), term.signal);
    term.abort();
    await lost.save(dir, state(2));
    expect(decodeState(kv.get(KEY)!)).toEqual(state(1));
    expect(decodeState(await fsp.readFile(statePath(dir), 'utf8'))).toEqual(state(2));

    const term2 = new AbortController();
    const stopping = createKvState({ api: kv.api, key: KEY, dir, log: silentLogger(), sleep: async () => undefined, stop: stop.signal });
    await stopping.load(local(state(0)), term2.signal);
    stop.abort();
    term2.abort();
    await stopping.save(dir, state(3));
    expect(decodeState(kv.get(KEY)!)).toEqual(state(3));
  });

  it('a state over Consul\'s 512 KiB limit is an error naming the key, logged once; the file is written', async () => {
    const kv = fakeKv();
    const { log, lines } = logLines();
    const s = shared(kv, log);
    await s.load(local(state(1)));
    const big = state(Math.ceil(CONSUL_KV_MAX_BYTES / 40));
    await s.save(dir, big);
    await s.save(dir, big);
    const errors = lines().filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'STORE_WRITE' });
    expect(String(errors[0]!.msg)).toMatch(new RegExp(`${KEY}.*over Consul's KV limit`));
    expect(decodeState(kv.get(KEY)!)).toEqual(state(1));
    expect((await loadState(dir, { now: () => T0 })).state.budget).toHaveLength(big.budget.length);
  });

  it('a Consul failure while saving is a retryable STORE_WRITE naming the key, and the next save catches up', async () => {
    const kv = fakeKv();
    const s = shared(kv);
    await s.load(local(state(1)));
    kv.state.down = true;
    const err = await failure(s.save(dir, state(2)));
    expect(err).toBeInstanceOf(WhisperError);
    expect([err.code, err.retryable]).toEqual(['STORE_WRITE', true]);
    expect(err.message).toContain(KEY);
    kv.state.down = false;
    await s.save(dir, state(2));
    expect(decodeState(kv.get(KEY)!)).toEqual(state(2));
  });
});
