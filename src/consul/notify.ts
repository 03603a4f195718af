import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { backoffDelay, systemTimers, type BackoffOptions, type Timers } from '../time.js';
import type { ConsulApi } from './api.js';

/** Options of {@link createNotifier}. */
export interface NotifierOptions {
  api: Pick<ConsulApi, 'kvSet'>;
  /** The KV key to write (whisper's `--notify`). */
  key: string;
  /** Changes within this long of the first one are written together, once. @default 1000 */
  debounceMs?: number;
  /** @default systemTimers */
  timers?: Timers;
  /** Clock for the `time` field. @default Date.now */
  now?: () => number;
  /** Backoff between failed writes. @default base 1 s, max 60 s, factor 2, jitter ±20 % */
  backoff?: BackoffOptions;
  /** @default a silent logger */
  log?: Logger;
}

/** Tells HAProxy's renderer (anything watching the KV key) that certificate files changed. */
export interface Notifier {
  /** Files (names in the certificate folder) changed; written with the others of the debounce window. */
  changed(files: readonly string[]): void;
  /** Writes what is pending now; rejects if that write fails (the change stays pending and is retried). */
  flush(): Promise<void>;
  /** Writes what is pending (once; a failure is logged) and stops all timers. Later changes are ignored. */
  close(): Promise<void>;
}

/**
 * The notifier: coalesces file changes into one write of `key` with `{"time": ISO, "files": [sorted unique]}`,
 * debounced; a failed write is retried with backoff, so a change is never lost while the process runs.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const { api, key } = options;
  const debounceMs = options.debounceMs ?? 1000;
  const timers = options.timers ?? systemTimers;
  const now = options.now ?? Date.now;
  const backoff: BackoffOptions = { baseMs: 1000, maxMs: 60_000, ...options.backoff };
  const log = options.log ?? silentLogger();

  const pending = new Set<string>();
  let timer: unknown;
  let attempt = 0;
  let closed = false;
  // Writes run one after another, so the key's last value always names the latest changes.
  let chain: Promise<void> = Promise.resolve();

  function cancelTimer(): void {
    if (timer === undefined) return;
    timers.clearTimeout(timer);
    timer = undefined;
  }

  function schedule(ms: number): void {
    if (timer !== undefined || closed) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      // A failure was logged and a retry scheduled by write().
      enqueueWrite().catch(() => undefined);
    }, ms);
  }

  async function write(): Promise<void> {
    if (pending.size === 0) return;
    const files = [...pending].sort();
    pending.clear();
    const value = JSON.stringify({ time: new Date(now()).toISOString(), files });
    try {
      await api.kvSet(key, value);
    } catch (err) {
      for (const f of files) pending.add(f);
      attempt++;
      if (!closed) {
        const delay = backoffDelay(attempt, backoff);
        log.warn({ key, files: files.length, attempt, delayMs: delay }, `writing notify key failed: ${errorMessage(err)}; retrying in ${delay} ms`);
        cancelTimer();
        schedule(delay);
      }
      throw err;
    }
    attempt = 0;
    log.info({ key, files }, 'notify key written');
  }

  function enqueueWrite(): Promise<void> {
    const run = chain.then(write);
    chain = run.catch(() => undefined);
    return run;
  }

  return {
    changed(files) {
      if (closed) {
        log.warn({ key, files }, 'notifier closed; change not written');
        return;
      }
      if (files.length === 0) return;
      for (const f of files) pending.add(f);
      schedule(debounceMs);
    },

    flush() {
      cancelTimer();
      return enqueueWrite();
    },

    async close() {
      closed = true;
      cancelTimer();
      try {
        await enqueueWrite();
      } catch (err) {
        log.error({ key, files: [...pending].sort() }, `writing notify key on close failed: ${errorMessage(err)}`);
      }
    },
  } satisfies Notifier;
}
