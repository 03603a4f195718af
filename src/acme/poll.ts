import { WhisperError } from '../errors.js';

/** Waits `ms`, rejecting early when `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real {@link Sleep}: a timer, cleared on abort. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The `ABORTED` error for a signal. */
export function abortError(signal: AbortSignal | undefined, what = 'operation'): WhisperError {
  return new WhisperError('ABORTED', `${what} aborted`, { cause: signal?.reason });
}

/** Options of {@link pollUntil}. */
export interface PollOptions {
  readonly sleep: Sleep;
  readonly now: () => Date;
  readonly signal?: AbortSignal;
  /** First delay; each next one is 1.5 times longer, at most `maxIntervalMs`. */
  readonly intervalMs: number;
  readonly maxIntervalMs: number;
  /** Give up after this long: the `timeout()` error is thrown. */
  readonly timeoutMs: number;
  readonly timeout: () => Error;
}

/**
 * Call `fetch` until `done` says so (`true`: return the value; it throws to fail), sleeping with a
 * growing interval in between.
 */
export async function pollUntil<T>(fetch: () => Promise<T>, done: (value: T) => boolean, options: PollOptions): Promise<T> {
  const deadline = options.now().getTime() + options.timeoutMs;
  let interval = options.intervalMs;
  for (;;) {
    const value = await fetch();
    if (done(value)) return value;
    if (options.now().getTime() + interval > deadline) throw options.timeout();
    await options.sleep(interval, options.signal);
    interval = Math.min(options.maxIntervalMs, Math.ceil(interval * 1.5));
  }
}
