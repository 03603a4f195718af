import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { backoffDelay, systemTimers, type BackoffOptions, type Timers } from '../time.js';
import type { ConsulApi } from './api.js';

/** Options of {@link createNotifier}. */
export interface NotifierOptions {
  api: Pick<ConsulApi, 'kvSet'>;
  /** The KV key to write (whisper's `--notify`). */
  key: string;
  /**
   * Least time between two writes while changes keep coming (`--notify-interval`). The first change after a quiet
   * spell is written at once; later ones wait for the rest of the interval and go out together. @default 5000
   */
  intervalMs?: number;
  /** @default systemTimers */
  timers?: Timers;
  /** Clock of the `time` field and of the interval. @default Date.now */
  now?: () => number;
  /** Backoff between failed writes. @default base 1 s, max 60 s, factor 2, jitter ±20 % */
  backoff?: BackoffOptions;
  /** @default a silent logger */
  log?: Logger;
  /** Called after each successful write with the files it announced (the history records it). @default none */
  onWritten?: (files: readonly string[]) => void;
}

/** Tells HAProxy's renderer (anything watching the KV key) that certificate files changed. */
export interface Notifier {
  /** Files (names in the certificate folder) changed: written at once, or with the others of the interval. */
  changed(files: readonly string[]): void;
  /** Writes what is pending now; rejects if that write fails (the change stays pending and is retried). */
  flush(): Promise<void>;
  /** Writes what is pending now (once; a failure is logged) and stops all timers. Later changes are ignored. */
  close(): Promise<void>;
}

/** Default of {@link NotifierOptions.intervalMs}. */
export const DEFAULT_NOTIFY_INTERVAL_MS = 5000;

/**
 * How long a pending change waits before it is written (0: at once). The notifier's one scheduling decision: the
 * first change, or one an interval or more after the last write started, goes out at once (leading edge); any other
 * waits until an interval after it (so writes are never closer than that, and the last change is written then).
 */
export function notifyDelay(now: number, lastWrite: number | undefined, intervalMs: number): number {
  return lastWrite === undefined ? 0 : Math.max(0, lastWrite + intervalMs - now);
}

/**
 * The notifier: writes `key` with `{"time": ISO, "files": [sorted unique]}` naming every file changed since the
 * previous write; the first change at once, then at most once per `intervalMs` while changes keep coming (see
 * {@link notifyDelay}). A failed write is retried with backoff, so a change is never lost while the process runs.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const { api, key } = options;
  const intervalMs = options.intervalMs ?? DEFAULT_NOTIFY_INTERVAL_MS;
  const timers = options.timers ?? systemTimers;
  const now = options.now ?? Date.now;
  const backoff: BackoffOptions = { baseMs: 1000, maxMs: 60_000, ...options.backoff };
  const log = options.log ?? silentLogger();

  const pending = new Set<string>();
  let timer: unknown;
  /** When the last write started (per `now`); undefined before the first. */
  let lastWrite: number | undefined;
  /** A write is queued and has not taken the pending files yet. */
  let queued = false;
  let attempt = 0;
  let closed = false;
  // Writes run one after another, so the key's last value always names the latest changes.
  let chain: Promise<void> = Promise.resolve();

  function cancelTimer(): void {
    if (timer === undefined) return;
    timers.clearTimeout(timer);
    timer = undefined;
  }

  function writeSoon(): void {
    queued = true;
    // A failure was logged and a retry scheduled by write().
    enqueueWrite().catch(() => undefined);
  }

  function schedule(ms: number): void {
    if (timer !== undefined || closed) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      writeSoon();
    }, ms);
  }

  /** Writes the pending files at once or schedules their write, unless a write or a timer will take them already. */
  function kick(): void {
    if (closed || queued || timer !== undefined || pending.size === 0) return;
    const delay = notifyDelay(now(), lastWrite, intervalMs);
    if (delay === 0) writeSoon();
    else schedule(delay);
  }

  async function write(): Promise<void> {
    queued = false;
    if (pending.size === 0) return;
    const files = [...pending].sort();
    pending.clear();
    lastWrite = now();
    const value = JSON.stringify({ time: new Date(lastWrite).toISOString(), files });
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
    options.onWritten?.(files);
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
      kick();
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
