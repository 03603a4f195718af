import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { KvWatcher, runWithKvWatchers, sameEntries, type KvEntries } from '../../../src/consul/kv-watch.js';
import type { ConsulApi, KvListing, KvQuery } from '../../../src/consul/api.js';
import { WhisperError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import type { Sleep } from '../../../src/time.js';
import { fakeClock, scriptedApi } from './fakes.js';

const PREFIX = 'whisper/static/';
const unavailable = () => new WhisperError('CONSUL_UNAVAILABLE', 'Consul at consul:8500 unreachable', { retryable: true });
/** node-consul's error of a 404, as `isNotFound` reads it. */
const notFound = () => Object.assign(new Error('not found'), { cause: { statusCode: 404 } });

type KvStep = { index: number; keys: Record<string, string> } | Error;

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function blockUntilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new WhisperError('ABORTED', 'aborted'));
    if (signal?.aborted) fail();
    else signal?.addEventListener('abort', fail, { once: true });
  });
}

/** A ConsulApi whose KV listing follows a script; after the last step it blocks until aborted and resolves `drained`. */
function scriptedKv(steps: KvStep[], onCall?: (q: KvQuery) => void) {
  const queries: Array<{ prefix: string; index: number | undefined; wait: string | undefined }> = [];
  let resolveDrained!: () => void;
  const drained = new Promise<void>((r) => (resolveDrained = r));
  const base = scriptedApi([]).api;
  const api: ConsulApi = {
    ...base,
    async kvList(prefix, q): Promise<KvListing> {
      queries.push({ prefix, index: q.index, wait: q.wait });
      onCall?.(q);
      const step = steps.shift();
      if (step === undefined) {
        resolveDrained();
        return blockUntilAborted(q.signal);
      }
      if (step instanceof Error) throw step;
      return { index: step.index, items: Object.entries(step.keys).map(([key, value]) => ({ key, value, modifyIndex: step.index })) };
    },
  };
  return { api, queries, drained };
}

async function runScript(steps: KvStep[], extra: Partial<ConstructorParameters<typeof KvWatcher>[0]> = {}) {
  const { api, queries, drained } = scriptedKv(steps);
  const clock = fakeClock();
  const changes: Array<Record<string, string>> = [];
  const { log, lines } = capturingLog();
  const watcher = new KvWatcher({
    api,
    prefix: PREFIX,
    wait: '30s',
    sleep: clock.sleep,
    now: clock.now,
    random: () => 0.5,
    log,
    onChange: (entries) => void changes.push(Object.fromEntries(entries)),
    ...extra,
  });
  const ac = new AbortController();
  const running = watcher.run(ac.signal);
  await drained;
  ac.abort();
  await running;
  return { watcher, queries, changes, sleeps: clock.sleeps, lines };
}

const k = (host: string) => `${PREFIX}example.com/${host}`;

describe('KvWatcher: reports', () => {
  it('reports the first answer (also an empty one), then blocks on its index', async () => {
    const { changes, queries } = await runScript([{ index: 7, keys: {} }]);
    expect(changes).toEqual([{}]);
    expect(queries).toEqual([
      { prefix: PREFIX, index: 0, wait: '30s' },
      { prefix: PREFIX, index: 7, wait: '30s' },
    ]);
  });

  it('reports a key added, changed or removed; not a new index with the same keys and values', async () => {
    const { changes } = await runScript([
      { index: 5, keys: { [k('a')]: 'SAN' } },
      // A PUT of the same value: the index moves, nothing changed.
      { index: 6, keys: { [k('a')]: 'SAN' } },
      { index: 7, keys: { [k('a')]: 'SAN', [k('b')]: '' } },
      { index: 8, keys: { [k('a')]: '', [k('b')]: '' } },
      { index: 9, keys: { [k('b')]: '' } },
    ]);
    expect(changes).toEqual([
      { [k('a')]: 'SAN' },
      { [k('a')]: 'SAN', [k('b')]: '' },
      { [k('a')]: '', [k('b')]: '' },
      { [k('b')]: '' },
    ]);
  });

  it('does not report when the wait expired at the same index', async () => {
    const { changes, queries } = await runScript([
      { index: 10, keys: { [k('a')]: '' } },
      { index: 10, keys: { [k('a')]: '' } },
      { index: 11, keys: {} },
    ]);
    expect(changes).toEqual([{ [k('a')]: '' }, {}]);
    expect(queries.map((q) => q.index)).toEqual([0, 10, 10, 11]);
  });

  it('reads a missing prefix (a thrown 404) as empty', async () => {
    const { changes } = await runScript([{ index: 4, keys: { [k('a')]: '' } }, notFound()]);
    expect(changes).toEqual([{ [k('a')]: '' }, {}]);
  });
});

describe('KvWatcher: index rules', () => {
  it('starts over without blocking when the index goes backwards, and reports only a difference', async () => {
    const { changes, queries, lines } = await runScript([
      { index: 50, keys: { [k('a')]: '' } },
      { index: 20, keys: { [k('a')]: '' } },
      { index: 20, keys: { [k('a')]: '' } },
      { index: 21, keys: { [k('a')]: '', [k('b')]: '' } },
    ]);
    expect(queries.map((q) => q.index)).toEqual([0, 50, 0, 20, 21]);
    expect(changes).toEqual([{ [k('a')]: '' }, { [k('a')]: '', [k('b')]: '' }]);
    expect(lines.some((l) => l.msg === 'Consul KV index went backwards; reading the prefix again')).toBe(true);
  });

  it('treats an index of 0 or less as 1, so it never blocks on 0', async () => {
    const { queries } = await runScript([
      { index: 0, keys: {} },
      { index: -3, keys: {} },
    ]);
    expect(queries.map((q) => q.index)).toEqual([0, 1, 1]);
  });

  it('asks without blocking after a failure or a closed connection', async () => {
    let closed = 0;
    const { api, queries, drained } = scriptedKv(
      [{ index: 54, keys: {} }, { index: 55, keys: { [k('a')]: '' } }, { index: 56, keys: {} }, unavailable(), { index: 57, keys: {} }],
      (q) => {
        if (q.index === 54) closed++;
      },
    );
    const clock = fakeClock();
    const watcher = new KvWatcher({ api: { ...api, closedConnections: () => closed }, prefix: PREFIX, sleep: clock.sleep, now: clock.now, random: () => 0.5, onChange: () => undefined });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    ac.abort();
    await running;
    // A connection closed during the query at 54: the next one does not block; after the failure neither.
    expect(queries.map((q) => q.index)).toEqual([0, 54, 0, 56, 0, 57]);
  });
});

describe('KvWatcher: errors, pacing, lifecycle', () => {
  it('backs off exponentially with jitter on errors, never in a tight loop, and logs each failure', async () => {
    const { sleeps, changes, lines } = await runScript([unavailable(), unavailable(), unavailable(), { index: 3, keys: {} }, unavailable(), { index: 4, keys: {} }]);
    expect(sleeps).toEqual([250, 500, 1000, 100, 250, 100]);
    expect(changes).toEqual([{}]);
    const failures = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Consul KV query failed'));
    expect(failures.map((l) => [l.level, l.attempt, l.prefix])).toEqual([
      [40, 1, PREFIX],
      [40, 2, PREFIX],
      [40, 3, PREFIX],
      [40, 1, PREFIX],
    ]);
    const denied = new WhisperError('CONSUL_ERROR', 'Consul refused GET /v1/kv/whisper/static/ (403)');
    const { lines: refused } = await runScript([denied, { index: 2, keys: {} }]);
    expect(refused.find((l) => l.code === 'CONSUL_ERROR')?.level).toBe(50);
    expect((await runScript([unavailable(), unavailable()], { random: () => 0 })).sleeps).toEqual([200, 400]);
  });

  it('delivers the next answer again after onChange failed', async () => {
    let calls = 0;
    const seen: Array<Record<string, string>> = [];
    const { lines } = await runScript(
      [
        { index: 1, keys: { [k('a')]: '' } },
        { index: 2, keys: { [k('a')]: '' } },
        { index: 3, keys: { [k('a')]: '' } },
      ],
      {
        onChange: (e) => {
          if (++calls === 1) throw new Error('planner exploded');
          seen.push(Object.fromEntries(e));
        },
      },
    );
    expect(seen).toEqual([{ [k('a')]: '' }]);
    expect(lines.some((l) => l.level === 50 && l.err === 'planner exploded')).toBe(true);
  });

  it('resolves when aborted during a blocking query or a backoff, and settles firstAttempt either way', async () => {
    const { api, drained } = scriptedKv([]);
    const watcher = new KvWatcher({ api, prefix: PREFIX, onChange: () => undefined });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    ac.abort();
    await expect(running).resolves.toBeUndefined();
    await expect(watcher.firstAttempt).resolves.toBeUndefined();

    let sleeping!: () => void;
    const asleep = new Promise<void>((r) => (sleeping = r));
    const sleep: Sleep = (_ms, signal) =>
      new Promise((_, reject) => {
        sleeping();
        signal?.addEventListener('abort', () => reject(new WhisperError('ABORTED', 'aborted')), { once: true });
      });
    const failing = new KvWatcher({ api: scriptedKv([unavailable()]).api, prefix: PREFIX, sleep, onChange: () => undefined });
    const ac2 = new AbortController();
    const run2 = failing.run(ac2.signal);
    await asleep;
    // The first attempt failed: the daemon may go on with the catalog.
    await expect(failing.firstAttempt).resolves.toBeUndefined();
    ac2.abort();
    await expect(run2).resolves.toBeUndefined();
    expect(failing.requests).toBe(1);
  });

  it('sends no query when already aborted, refuses a bad wait, a second run, and a client without kvList', async () => {
    const { api } = scriptedKv([{ index: 1, keys: {} }]);
    const watcher = new KvWatcher({ api, prefix: PREFIX, onChange: () => undefined });
    await watcher.run(AbortSignal.abort());
    expect(watcher.requests).toBe(0);
    expect(() => new KvWatcher({ api, prefix: PREFIX, wait: 'forever', onChange: () => undefined })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const blocking = scriptedKv([]);
    const busy = new KvWatcher({ api: blocking.api, prefix: PREFIX, onChange: () => undefined });
    const ac = new AbortController();
    const running = busy.run(ac.signal);
    await blocking.drained;
    await expect(busy.run(ac.signal)).rejects.toMatchObject({ code: 'INTERNAL' });
    ac.abort();
    await running;
    const bare = new KvWatcher({ api: { ...api, kvList: undefined }, prefix: PREFIX, onChange: () => undefined });
    await expect(bare.run(new AbortController().signal)).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(bare.firstAttempt).resolves.toBeUndefined();
  });

  it('sameEntries compares keys and values', () => {
    const m = (o: Record<string, string>): KvEntries => new Map(Object.entries(o));
    expect(sameEntries(m({ a: '1' }), m({ a: '1' }))).toBe(true);
    expect(sameEntries(m({ a: '1' }), m({ a: '2' }))).toBe(false);
    expect(sameEntries(m({ a: '1' }), m({ b: '1' }))).toBe(false);
    expect(sameEntries(m({ a: '' }), m({}))).toBe(false);
  });
});

describe('runWithKvWatchers', () => {
  it('starts the catalog watcher after every KV watcher\'s first attempt, and stops them all with the signal', async () => {
    const order: string[] = [];
    const { api } = scriptedKv([{ index: 1, keys: { [k('a')]: 'SAN' } }]);
    const failing = scriptedKv([unavailable()]);
    const clock = fakeClock();
    const kv = new KvWatcher({ api, prefix: PREFIX, sleep: clock.sleep, onChange: () => void order.push('static') });
    let sleeping!: () => void;
    const asleep = new Promise<void>((r) => (sleeping = r));
    const slow = new KvWatcher({
      api: failing.api,
      prefix: 'other/',
      sleep: (_ms, signal) =>
        new Promise((_, reject) => {
          sleeping();
          signal?.addEventListener('abort', () => reject(new WhisperError('ABORTED', 'aborted')), { once: true });
        }),
      onChange: () => void order.push('other'),
    });
    const ac = new AbortController();
    let catalogSignal: AbortSignal | undefined;
    const catalog = {
      run: (signal: AbortSignal) => {
        order.push('catalog');
        catalogSignal = signal;
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    };
    const running = runWithKvWatchers(catalog, [kv, slow], ac.signal, silentLogger());
    await asleep;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['static', 'catalog']);
    ac.abort();
    await running;
    expect(catalogSignal?.aborted).toBe(true);
  });

  it('keeps the catalog watcher running when a KV watcher fails, and stops the KV watchers when the catalog one ends', async () => {
    const { lines, log } = capturingLog();
    const broken = new KvWatcher({ api: { ...scriptedKv([]).api, kvList: undefined }, prefix: PREFIX, onChange: () => undefined });
    const blocking = scriptedKv([{ index: 3, keys: {} }]);
    const kv = new KvWatcher({ api: blocking.api, prefix: 'other/', sleep: fakeClock().sleep, onChange: () => undefined });
    let finish!: () => void;
    const catalog = { run: () => new Promise<void>((r) => (finish = r)) };
    const running = runWithKvWatchers(catalog, [broken, kv], new AbortController().signal, log);
    await blocking.drained;
    await new Promise((r) => setImmediate(r));
    expect(lines.some((l) => l.level === 50 && l.msg === 'watching a Consul KV prefix stopped')).toBe(true);
    finish();
    await expect(running).resolves.toBeUndefined();
  });
});
