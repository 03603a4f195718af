import { WhisperError } from '../../../src/errors.js';
import type { CatalogQuery, CatalogServices, ConsulApi } from '../../../src/consul/api.js';
import type { Sleep, Timers } from '../../../src/time.js';

/** One scripted answer of the fake catalog: services at an index, or an error to throw. */
export type Step = CatalogServices | Error;

/** A promise that rejects with ABORTED when `signal` aborts: a blocking query nothing wakes. */
function blockUntilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new WhisperError('ABORTED', 'aborted'));
    if (signal?.aborted) fail();
    else signal?.addEventListener('abort', fail, { once: true });
  });
}

/**
 * A ConsulApi whose catalog answers follow a script; after the last step it blocks until aborted and resolves
 * `drained`. Records each query's options.
 */
export function scriptedApi(steps: Step[], onCall?: (q: CatalogQuery) => void) {
  const queries: CatalogQuery[] = [];
  const kv = new Map<string, string>();
  let resolveDrained!: () => void;
  const drained = new Promise<void>((r) => (resolveDrained = r));
  const api: ConsulApi = {
    async catalogServices(q) {
      queries.push({ index: q.index, wait: q.wait });
      onCall?.(q);
      const step = steps.shift();
      if (step === undefined) {
        resolveDrained();
        return blockUntilAborted(q.signal);
      }
      if (step instanceof Error) throw step;
      return { index: step.index, services: structuredClone(step.services) };
    },
    async kvSet(key, value) {
      kv.set(key, value);
    },
    async kvGet(key) {
      return kv.get(key);
    },
    async leader() {
      return '127.0.0.1:8300';
    },
  };
  return { api, queries, drained };
}

/** A clock that only `sleep` moves, and a sleep that records its delays and rejects on abort. */
export function fakeClock(start = 1_000_000) {
  let t = start;
  const sleeps: number[] = [];
  const now = () => t;
  const sleep: Sleep = async (ms, signal) => {
    if (signal?.aborted) throw new WhisperError('ABORTED', 'aborted');
    sleeps.push(ms);
    t += ms;
  };
  return { now, sleep, sleeps, advance: (ms: number) => void (t += ms) };
}

/** Timers run by hand: `advance(ms)` fires what is due, in order. */
export class FakeTimers implements Timers {
  #t = 0;
  #seq = 0;
  readonly #due = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#due.set(id, { at: this.#t + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#due.delete(handle as number);
  }

  /** Pending timers' delays from now. */
  get pending(): number[] {
    return [...this.#due.values()].map((d) => d.at - this.#t).sort((a, b) => a - b);
  }

  get now(): number {
    return this.#t;
  }

  /** Moves time forward, firing due timers and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.#t + ms;
    for (;;) {
      const next = [...this.#due.entries()].filter(([, d]) => d.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.#due.delete(next[0]);
      this.#t = next[1].at;
      next[1].fn();
      await settle();
    }
    this.#t = end;
    await settle();
  }
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}
