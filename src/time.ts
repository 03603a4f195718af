import { setTimeout as delay } from 'node:timers/promises';
import { WhisperError } from './errors.js';

/** Waits `ms`; rejects with `ABORTED` when `signal` aborts. Injected everywhere so tests need no real time. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real {@link Sleep}: a timer that an AbortSignal cancels. */
export const abortableSleep: Sleep = async (ms, signal) => {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (signal?.aborted) throw new WhisperError('ABORTED', 'wait aborted', { cause: err });
    throw err;
  }
};

/** Timers a long-lived component schedules with; tests pass fakes. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's timers, unref'd so a pending retry never keeps a stopping process alive. */
export const systemTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** First delay. @default 1000 */
  baseMs?: number;
  /** Ceiling. @default 300000 */
  maxMs?: number;
  /** Growth per attempt. @default 2 */
  factor?: number;
  /** Random spread, as a fraction of the delay (0.2 = ±20 %). @default 0.2 */
  jitter?: number;
  /** @default Math.random */
  random?: () => number;
}

/** Delay before retry number `attempt` (1-based): exponential, capped, with jitter so that many clients spread out. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 1000;
  const max = options.maxMs ?? 300_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const raw = Math.min(max, base * factor ** Math.max(0, attempt - 1));
  const spread = raw * jitter * (2 * random() - 1);
  return Math.max(0, Math.min(max, Math.round(raw + spread)));
}

/**
 * The process's timers, kept referenced: for short waits that must run even when nothing else keeps the process
 * alive (a DNS batch window, a bounded flush at stop). Cleared as soon as they are moot.
 */
export const heldTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
