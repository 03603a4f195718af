import { WhisperError } from '../errors.js';

interface Caller<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

interface Running<T> {
  readonly callers: Set<Caller<T>>;
  readonly controller: AbortController;
}

/**
 * At most one run of a task per key, shared by every caller that asks while it runs: each gets its result or its
 * error. A caller whose signal aborts leaves alone (`ABORTED` for it, the run goes on for the others); when the last
 * caller leaves, the run's own signal aborts and the key is free again. A settled run is forgotten: the next caller
 * starts a new one.
 */
export class SharedTasks<K, T> {
  private readonly running = new Map<K, Running<T>>();

  /** Whether a run of `key` is in flight. */
  has(key: K): boolean {
    return this.running.has(key);
  }

  /** Joins the run of `key`, starting `work` when there is none; `what` names it in an abort message. */
  run(key: K, work: (signal: AbortSignal) => Promise<T>, what: string, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new WhisperError('ABORTED', `${what}: aborted`));
    let run = this.running.get(key);
    if (!run) run = this.start(key, work);
    return this.join(key, run, what, signal);
  }

  private start(key: K, work: (signal: AbortSignal) => Promise<T>): Running<T> {
    const run: Running<T> = { callers: new Set(), controller: new AbortController() };
    this.running.set(key, run);
    const settle = (fn: (c: Caller<T>) => void) => {
      if (this.running.get(key) === run) this.running.delete(key);
      for (const c of run.callers) fn(c);
      run.callers.clear();
    };
    // Started on the next tick, so the caller that starts it has joined before it can settle.
    void Promise.resolve()
      .then(() => work(run.controller.signal))
      .then(
        (value) => settle((c) => c.resolve(value)),
        (err: unknown) => settle((c) => c.reject(err)),
      );
    return run;
  }

  private join(key: K, run: Running<T>, what: string, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        run.callers.delete(caller);
        reject(new WhisperError('ABORTED', `${what}: aborted`));
        if (run.callers.size === 0) {
          if (this.running.get(key) === run) this.running.delete(key);
          run.controller.abort();
        }
      };
      const caller: Caller<T> = {
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      run.callers.add(caller);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
