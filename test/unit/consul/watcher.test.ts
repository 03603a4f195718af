import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { CatalogWatcher, type CatalogChange } from '../../../src/consul/watcher.js';
import { WhisperError } from '../../../src/errors.js';
import type { Sleep } from '../../../src/time.js';
import { fakeClock, scriptedApi, type Step } from './fakes.js';

const unavailable = () => new WhisperError('CONSUL_UNAVAILABLE', 'Consul at consul:8500 unreachable', { retryable: true });

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

/** Runs a watcher over a script until the script is used up, then aborts it. */
async function runScript(steps: Step[], extra: Partial<ConstructorParameters<typeof CatalogWatcher>[0]> = {}) {
  const { api, queries, drained } = scriptedApi(steps);
  const clock = fakeClock();
  const changes: CatalogChange[] = [];
  const { log, lines } = capturingLog();
  const watcher = new CatalogWatcher({
    api,
    wait: '30s',
    sleep: clock.sleep,
    now: clock.now,
    random: () => 0.5,
    log,
    onChange: (c) => void changes.push(c),
    ...extra,
  });
  const ac = new AbortController();
  const running = watcher.run(ac.signal);
  await drained;
  ac.abort();
  await running;
  return { watcher, queries, changes, sleeps: clock.sleeps, lines, clock };
}

const summary = (c: CatalogChange) => ({
  changed: [...c.changed].sort(),
  removed: [...c.removed].sort(),
  reset: c.reset,
});

describe('CatalogWatcher: reports', () => {
  it('reports every service as changed on the first answer, with tags sorted and unique', async () => {
    const { changes, queries } = await runScript([{ index: 7, services: { web: ['b=2', 'a=1', 'b=2'], consul: [] } }]);
    expect(changes).toHaveLength(1);
    expect(summary(changes[0]!)).toEqual({ changed: ['consul', 'web'], removed: [], reset: false });
    expect(changes[0]!.services).toEqual(
      new Map([
        ['consul', []],
        ['web', ['a=1', 'b=2']],
      ]),
    );
    // The first query does not block; the next one blocks on the answer's index.
    expect(queries).toEqual([
      { index: 0, wait: '30s' },
      { index: 7, wait: '30s' },
    ]);
  });

  it('reports only services whose tag set changed, and those removed', async () => {
    const { changes } = await runScript([
      { index: 5, services: { a: ['x', 'y'], b: ['z'], c: [] } },
      { index: 6, services: { a: ['y', 'x'], b: ['z', 'w'], d: ['new'] } },
    ]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a', 'b', 'c'], removed: [], reset: false },
      { changed: ['b', 'd'], removed: ['c'], reset: false },
    ]);
    expect(changes[1]!.services.get('b')).toEqual(['w', 'z']);
  });

  it('calls onChange when the first answer holds no service, then not while nothing changes', async () => {
    const { changes } = await runScript([
      { index: 3, services: {} },
      { index: 4, services: {} },
    ]);
    expect(changes.map(summary)).toEqual([{ changed: [], removed: [], reset: false }]);
  });

  it('does not call onChange when the index did not change (the wait expired)', async () => {
    const { changes, queries } = await runScript([
      { index: 10, services: { a: [] } },
      { index: 10, services: { a: [] } },
      { index: 10, services: { a: [], b: [] } },
      { index: 11, services: { a: [], b: [] } },
    ]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a'], removed: [], reset: false },
      { changed: ['b'], removed: [], reset: false },
    ]);
    expect(queries.map((q) => q.index)).toEqual([0, 10, 10, 10, 11]);
  });

  it('does not call onChange when the index moved but no tag set changed', async () => {
    const { changes } = await runScript([
      { index: 10, services: { a: ['1', '2'] } },
      { index: 12, services: { a: ['2', '1', '1'] } },
    ]);
    expect(changes).toHaveLength(1);
  });
});

describe('CatalogWatcher: index rules', () => {
  it('resets to 0 when the index goes backwards and flags the next answer as a reset', async () => {
    const { changes, queries } = await runScript([
      { index: 50, services: { a: [], b: [] } },
      { index: 20, services: { a: [] } },
      { index: 21, services: { a: [], c: [] } },
      { index: 22, services: { a: [], c: [], d: [] } },
    ]);
    expect(queries.map((q) => q.index)).toEqual([0, 50, 0, 21, 22]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a', 'b'], removed: [], reset: false },
      { changed: ['c'], removed: ['b'], reset: true },
      { changed: ['d'], removed: [], reset: false },
    ]);
  });

  it('asks without blocking after a failure, and takes a lower index in that answer as a reset at once', async () => {
    const { changes, queries } = await runScript([
      { index: 50, services: { a: [], b: [] } },
      unavailable(),
      { index: 20, services: { a: [] } },
      { index: 21, services: { a: [], c: [] } },
    ]);
    expect(queries.map((q) => q.index)).toEqual([0, 50, 0, 20, 21]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a', 'b'], removed: [], reset: false },
      { changed: [], removed: ['b'], reset: true },
      { changed: ['c'], removed: [], reset: false },
    ]);
  });

  it('asks without blocking once a connection to Consul closed (an agent restarting between two queries)', async () => {
    let closed = 0;
    const { api, queries, drained } = scriptedApi(
      [
        { index: 54, services: { a: [], b: [] } },
        { index: 55, services: { a: [], b: [] , c: [] } },
        // The agent stops: its idle connections close; a fresh agent, whose index is low, answers next.
        { index: 13, services: { a: [] } },
        { index: 14, services: { a: [], d: [] } },
      ],
      (q) => {
        if (q.index === 54) closed += 2;
      },
    );
    const changes: CatalogChange[] = [];
    const clock = fakeClock();
    const { log, lines } = capturingLog();
    const watcher = new CatalogWatcher({
      api: { ...api, closedConnections: () => closed },
      wait: '5m',
      sleep: clock.sleep,
      now: clock.now,
      log,
      onChange: (c) => void changes.push(c),
    });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    ac.abort();
    await running;
    // Without the check, the third query would block on index 55 at an agent whose index is 13: its whole wait.
    expect(queries.map((q) => q.index)).toEqual([0, 54, 0, 13, 14]);
    expect(lines.some((l) => l.msg === 'Consul catalog index went backwards; re-reading the whole catalog')).toBe(true);
    expect(changes.map(summary)).toEqual([
      { changed: ['a', 'b'], removed: [], reset: false },
      { changed: ['c'], removed: [], reset: false },
      { changed: [], removed: ['b', 'c'], reset: true },
      { changed: ['d'], removed: [], reset: false },
    ]);
  });

  it('does not report anything when the catalog is unchanged after a failure', async () => {
    const { changes, queries } = await runScript([
      { index: 50, services: { a: [] } },
      unavailable(),
      { index: 50, services: { a: [] } },
    ]);
    expect(queries.map((q) => q.index)).toEqual([0, 50, 0, 50]);
    expect(changes).toHaveLength(1);
  });

  it('reports a reset even when the re-read shows no difference', async () => {
    const { changes } = await runScript([
      { index: 50, services: { a: [] } },
      { index: 3, services: { a: [] } },
      { index: 3, services: { a: [] } },
    ]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a'], removed: [], reset: false },
      { changed: [], removed: [], reset: true },
    ]);
  });

  it('treats an index of 0 or less as 1, so it never blocks on 0', async () => {
    const { changes, queries } = await runScript([
      { index: 0, services: { a: [] } },
      { index: 0, services: { a: [], b: [] } },
      { index: -4, services: { a: [] } },
      { index: 2, services: { a: [], b: [] } },
    ]);
    expect(queries.map((q) => q.index)).toEqual([0, 1, 1, 1, 2]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a'], removed: [], reset: false },
      { changed: ['b'], removed: [], reset: false },
    ]);
  });
});

describe('CatalogWatcher: errors and pacing', () => {
  it('backs off exponentially on errors, and starts over after a success', async () => {
    const { sleeps, changes, lines, watcher } = await runScript([
      unavailable(),
      unavailable(),
      unavailable(),
      { index: 5, services: { a: [] } },
      unavailable(),
      { index: 6, services: { a: [], b: [] } },
    ]);
    // random 0.5 = no jitter; a success is followed by the 100 ms minimum interval (the fake answers take no time).
    expect(sleeps).toEqual([250, 500, 1000, 100, 250, 100]);
    expect(changes.map(summary)).toEqual([
      { changed: ['a'], removed: [], reset: false },
      { changed: ['b'], removed: [], reset: false },
    ]);
    const failures = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Consul catalog query failed'));
    expect(failures.map((l) => [l.level, l.attempt, l.delayMs, l.code])).toEqual([
      [40, 1, 250, 'CONSUL_UNAVAILABLE'],
      [40, 2, 500, 'CONSUL_UNAVAILABLE'],
      [40, 3, 1000, 'CONSUL_UNAVAILABLE'],
      [40, 1, 250, 'CONSUL_UNAVAILABLE'],
    ]);
    expect(failures[0]!.msg).toContain('retrying in 250 ms');
    expect(watcher.requests).toBe(7);
  });

  it('caps the backoff and spreads it with jitter', async () => {
    const errors = Array.from({ length: 10 }, unavailable);
    expect((await runScript([...errors], { random: () => 0.5 })).sleeps).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
    expect((await runScript([unavailable(), unavailable()], { random: () => 0 })).sleeps).toEqual([200, 400]);
    expect((await runScript([unavailable(), unavailable()], { random: () => 1 })).sleeps).toEqual([300, 600]);
    expect((await runScript([unavailable(), unavailable()], { backoff: { baseMs: 10, maxMs: 15, jitter: 0 } })).sleeps).toEqual([10, 15]);
  });

  it('keeps retrying an ACL refusal, logged as an error', async () => {
    const denied = new WhisperError('CONSUL_ERROR', 'Consul refused GET /v1/catalog/services (403): the ACL token lacks permission');
    const { changes, lines } = await runScript([denied, { index: 2, services: { a: [] } }]);
    expect(changes).toHaveLength(1);
    const failure = lines.find((l) => l.code === 'CONSUL_ERROR');
    expect(failure?.level).toBe(50);
  });

  it('waits out the rest of the minimum interval when Consul answers at once', async () => {
    const { api, drained } = scriptedApi(
      [
        { index: 1, services: {} },
        { index: 2, services: { a: [] } },
        { index: 3, services: { b: [] } },
      ],
      () => clock.advance(30),
    );
    const clock = fakeClock();
    const watcher = new CatalogWatcher({ api, sleep: clock.sleep, now: clock.now, onChange: () => undefined });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    ac.abort();
    await running;
    expect(clock.sleeps).toEqual([70, 70, 70]);
  });

  it('does not wait after a query that took longer than the minimum interval', async () => {
    const clock = fakeClock();
    const { api, drained } = scriptedApi(
      [
        { index: 1, services: {} },
        { index: 2, services: { a: [] } },
      ],
      () => clock.advance(5000),
    );
    const watcher = new CatalogWatcher({ api, sleep: clock.sleep, now: clock.now, minIntervalMs: 100, onChange: () => undefined });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    ac.abort();
    await running;
    expect(clock.sleeps).toEqual([]);
  });

  it('logs an onChange failure, keeps watching, and flags the next report as a reset', async () => {
    let calls = 0;
    const seen: CatalogChange[] = [];
    const { lines } = await runScript(
      [
        { index: 1, services: { a: [] } },
        { index: 2, services: { a: [], b: [] } },
        { index: 3, services: { a: [], b: [], c: [] } },
      ],
      {
        onChange: (c) => {
          calls++;
          if (calls === 1) throw new Error('planner exploded');
          seen.push(c);
        },
      },
    );
    expect(seen.map(summary)).toEqual([
      { changed: ['b'], removed: [], reset: true },
      { changed: ['c'], removed: [], reset: false },
    ]);
    expect(lines.some((l) => l.level === 50 && l.err === 'planner exploded')).toBe(true);
  });

  it('records lastSuccess from the injected clock', async () => {
    const clock = fakeClock(42_000);
    const { api, drained } = scriptedApi([unavailable(), { index: 1, services: {} }]);
    const watcher = new CatalogWatcher({ api, sleep: clock.sleep, now: clock.now, random: () => 0.5, onChange: () => undefined });
    expect(watcher.lastSuccess).toBeUndefined();
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    ac.abort();
    await running;
    // One 250 ms backoff before the successful answer.
    expect(watcher.lastSuccess).toBe(42_250);
  });
});

describe('CatalogWatcher: lifecycle', () => {
  it('resolves when aborted during a blocking query', async () => {
    const { api, drained } = scriptedApi([]);
    const watcher = new CatalogWatcher({ api, onChange: () => undefined });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    ac.abort();
    await expect(running).resolves.toBeUndefined();
    expect(watcher.requests).toBe(1);
  });

  it('resolves when aborted during a backoff wait', async () => {
    const { api } = scriptedApi([unavailable()]);
    let sleeping!: () => void;
    const asleep = new Promise<void>((r) => (sleeping = r));
    const sleep: Sleep = (_ms, signal) =>
      new Promise((_, reject) => {
        sleeping();
        signal?.addEventListener('abort', () => reject(new WhisperError('ABORTED', 'aborted')), { once: true });
      });
    const watcher = new CatalogWatcher({ api, sleep, onChange: () => undefined });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await asleep;
    ac.abort();
    await expect(running).resolves.toBeUndefined();
    expect(watcher.requests).toBe(1);
  });

  it('sends no query when the signal is already aborted', async () => {
    const { api } = scriptedApi([{ index: 1, services: {} }]);
    const watcher = new CatalogWatcher({ api, onChange: () => undefined });
    await watcher.run(AbortSignal.abort());
    expect(watcher.requests).toBe(0);
  });

  it('rejects a wait that is not a Consul duration at construction', () => {
    const { api } = scriptedApi([]);
    expect(() => new CatalogWatcher({ api, wait: 'forever', onChange: () => undefined })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('refuses a second concurrent run', async () => {
    const { api, drained } = scriptedApi([]);
    const watcher = new CatalogWatcher({ api, onChange: () => undefined });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    await drained;
    await expect(watcher.run(ac.signal)).rejects.toMatchObject({ code: 'INTERNAL' });
    ac.abort();
    await running;
  });
});
