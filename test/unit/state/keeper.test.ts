import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, silentLogger } from '../../../src/log.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState, type WhisperState } from '../../../src/state/types.js';
import type { Timers } from '../../../src/time.js';

/** Timers that fire only when the test says so; `delays` lists every delay asked for. */
function manualTimers(): Timers & { pending: () => number; fire: () => void; delays: number[] } {
  const queue = new Map<number, () => void>();
  const delays: number[] = [];
  let next = 0;
  return {
    delays,
    setTimeout(fn, ms) {
      delays.push(ms);
      queue.set((next += 1), fn);
      return next;
    },
    clearTimeout(handle) {
      queue.delete(handle as number);
    },
    pending: () => queue.size,
    fire() {
      const due = [...queue.values()];
      queue.clear();
      for (const fn of due) fn();
    },
  };
}

/** A save that records what it was given and resolves when the test releases it. */
function recordingSave() {
  const saved: WhisperState[] = [];
  let release: (() => void) | undefined;
  const save = (_dir: string, state: WhisperState) => {
    saved.push(state);
    return new Promise<void>((resolve) => (release = resolve));
  };
  return { saved, save, release: () => release?.() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A logger whose JSON lines the test reads: `[level, msg]` pairs. */
function capturedLog() {
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString();
      cb();
    },
  });
  const lines = () =>
    raw
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { level: number; msg: string; code?: string; file?: string });
  return { log: createLogger({ destination, debug: true }), lines, warnings: () => lines().filter((l) => l.level === 40) };
}

/** A save whose outcome the test sets: `fail` true makes it reject; `saved` lists what it was given. */
function switchableSave() {
  const io = { fail: true, saved: [] as WhisperState[], calls: 0 };
  const save = async (_dir: string, state: WhisperState) => {
    io.calls += 1;
    if (io.fail) throw new Error('ENOSPC: no space left on device');
    io.saved.push(state);
  };
  return { io, save };
}
const AT = new Date('2026-03-01T00:00:00Z');

describe('StateKeeper', () => {
  it('writes the first change at once and gathers later ones into one write after the interval', async () => {
    const timers = manualTimers();
    const io = recordingSave();
    const keeper = new StateKeeper('/state', emptyState(), silentLogger(), io.save, { timers, minIntervalMs: 1000 });
    keeper.setCert('a', () => ({ nextRenewal: AT }));
    expect(io.saved).toHaveLength(1);
    keeper.setCert('b', () => ({ nextRenewal: AT }));
    keeper.setCert('c', () => ({ nextRenewal: AT }));
    io.release();
    await settle();
    // Still within the interval: nothing written yet, one timer waiting.
    expect([io.saved.length, timers.pending()]).toEqual([1, 1]);
    timers.fire();
    expect(io.saved).toHaveLength(2);
    expect(Object.keys(io.saved[1]!.certs).sort()).toEqual(['a', 'b', 'c']);
    io.release();
    await settle();
    expect([io.saved.length, timers.pending()]).toEqual([2, 0]);
  });

  it('does not write when a change leaves a certificate as it was', async () => {
    const timers = manualTimers();
    const io = recordingSave();
    const keeper = new StateKeeper('/state', { budget: [], certs: { a: { nextRenewal: AT } } }, silentLogger(), io.save, { timers });
    keeper.setCert('a', (old) => ({ ...old, lastError: undefined, nextRenewal: new Date(AT.getTime()) }));
    expect(io.saved).toHaveLength(0);
    keeper.setCert('a', (old) => ({ ...old, ariChosen: true }));
    expect(io.saved).toHaveLength(1);
    expect(keeper.cert('a')).toEqual({ nextRenewal: AT, ariChosen: true });
  });

  it('flush writes what waits for the interval at once', async () => {
    const timers = manualTimers();
    const saved: WhisperState[] = [];
    let release: (() => void) | undefined;
    const save = async (_d: string, s: WhisperState) => {
      saved.push(s);
      if (saved.length === 1) await new Promise<void>((resolve) => (release = resolve));
    };
    const keeper = new StateKeeper('/state', emptyState(), silentLogger(), save, { timers });
    keeper.setCert('a', () => ({ ariChosen: false }));
    keeper.setBudget([{ type: 'order', at: AT.getTime(), names: ['a'] }]);
    release?.();
    await settle();
    expect([saved.length, timers.pending()]).toEqual([1, 1]);
    await keeper.flush();
    expect(saved).toHaveLength(2);
    expect(saved[1]!.budget).toHaveLength(1);
    expect(timers.pending()).toBe(0);
  });

  it('gives a snapshot that later changes do not alter', () => {
    const keeper = new StateKeeper('/state', emptyState(), silentLogger(), async () => undefined, { timers: manualTimers() });
    keeper.setCert('a', () => ({ ariChosen: true }));
    const before = keeper.state;
    keeper.setCert('b', () => ({ ariChosen: true }));
    expect(Object.keys(before.certs)).toEqual(['a']);
    expect(Object.keys(keeper.state.certs).sort()).toEqual(['a', 'b']);
  });

  it('keeps the changes of a failed write and writes them on the retry, without a new change', async () => {
    const timers = manualTimers();
    const { io, save } = switchableSave();
    const keeper = new StateKeeper('/state', emptyState(), silentLogger(), save, { timers, random: () => 0.5 });
    keeper.setCert('a', () => ({ ariChosen: true }));
    await settle();
    expect([io.calls, timers.pending()]).toEqual([1, 1]);
    io.fail = false;
    timers.fire();
    await settle();
    expect(io.saved).toEqual([{ budget: [], certs: { a: { ariChosen: true } } }]);
    expect(timers.pending()).toBe(0);
  });

  it('backs off while writes keep failing and warns once per failure streak', async () => {
    const timers = manualTimers();
    const { io, save } = switchableSave();
    const out = capturedLog();
    const keeper = new StateKeeper('/state', emptyState(), out.log, save, { timers, minIntervalMs: 1000, random: () => 0.5 });
    keeper.setCert('a', () => ({ ariChosen: true }));
    await settle();
    for (let i = 0; i < 4; i += 1) {
      // A change during the streak waits for the retry instead of writing at once.
      keeper.setCert('a', () => ({ ariChosen: i % 2 === 0 }));
      expect(timers.pending()).toBe(1);
      timers.fire();
      await settle();
    }
    expect(io.calls).toBe(5);
    expect(timers.delays).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(out.warnings()).toHaveLength(1);
    expect(out.warnings()[0]).toMatchObject({ code: 'STORE_WRITE', file: '/state/.whisper-state.json' });
    expect(out.warnings()[0]!.msg).toContain('no space left on device');

    io.fail = false;
    timers.fire();
    await settle();
    expect(io.saved).toHaveLength(1);
    expect(out.lines().filter((l) => l.level === 30).map((l) => l.msg)).toEqual([expect.stringContaining('written again')]);

    // A new streak is reported again, and its backoff starts over.
    io.fail = true;
    keeper.setCert('b', () => ({ ariChosen: true }));
    await settle();
    expect(out.warnings()).toHaveLength(2);
    expect(timers.delays.at(-1)).toBe(1000);
  });

  it('flush tries a failed write once more, then leaves no retry behind; the next change tries again', async () => {
    const timers = manualTimers();
    const { io, save } = switchableSave();
    const keeper = new StateKeeper('/state', emptyState(), silentLogger(), save, { timers });
    keeper.setCert('a', () => ({ ariChosen: true }));
    await keeper.flush();
    expect([io.calls, timers.pending()]).toEqual([2, 0]);
    io.fail = false;
    keeper.setCert('b', () => ({ ariChosen: false }));
    await keeper.flush();
    expect(io.saved.at(-1)?.certs).toEqual({ a: { ariChosen: true }, b: { ariChosen: false } });
  });

  it('prune drops the entries of certificates not kept, and writes only when it dropped any', async () => {
    const timers = manualTimers();
    const { io, save } = switchableSave();
    io.fail = false;
    const initial = { budget: [], certs: { a: { ariChosen: true }, gone: { nextRenewal: AT }, c: { ariChosen: false } } };
    const keeper = new StateKeeper('/state', initial, silentLogger(), save, { timers });
    expect(keeper.prune(new Set(['a', 'c', 'not-in-state']))).toBe(1);
    await keeper.flush();
    expect(io.saved.map((s) => Object.keys(s.certs).sort())).toEqual([['a', 'c']]);
    expect(keeper.cert('gone')).toEqual({});
    expect(keeper.prune(['c', 'a'])).toBe(0);
    await keeper.flush();
    expect(io.saved).toHaveLength(1);
  });
});
