import { describe, it, expect } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState, type WhisperState } from '../../../src/state/types.js';
import type { Timers } from '../../../src/time.js';

/** Timers that fire only when the test says so. */
function manualTimers(): Timers & { pending: () => number; fire: () => void } {
  const queue = new Map<number, () => void>();
  let next = 0;
  return {
    setTimeout(fn) {
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

  it('keeps going after a failed write and writes again on the next change', async () => {
    const timers = manualTimers();
    let calls = 0;
    const keeper = new StateKeeper('/state', emptyState(), silentLogger(), async () => {
      calls += 1;
      if (calls === 1) throw new Error('disk full');
    }, { timers });
    keeper.setCert('a', () => ({ ariChosen: true }));
    await keeper.flush();
    keeper.setCert('a', () => ({ ariChosen: false }));
    await keeper.flush();
    expect(calls).toBe(2);
  });
});
