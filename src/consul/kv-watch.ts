import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { abortableSleep, backoffDelay, type BackoffOptions, type Sleep } from '../time.js';
import type { ConsulApi, KvItem } from './api.js';
import { isNotFound } from './answers.js';
import { DEFAULT_CONSUL_WAIT, parseConsulDuration } from './duration.js';
import type { BlockingQueryOptions } from './watcher.js';

/** KV key → value (UTF-8), every key under a prefix. */
export type KvEntries = ReadonlyMap<string, string>;

/** Options of {@link KvWatcher}. */
export interface KvWatcherOptions extends BlockingQueryOptions {
  /**
   * What to list, as Consul matches it: a plain string prefix, so `whisper/static/` (with its slash) stays in that
   * folder where `whisper/static` would also list `whisper/static2/...`.
   */
  prefix: string;
  /**
   * Called with every key under `prefix` for the first answer, and after that only when a key was added, removed or
   * changed its value. Awaited; its errors are logged, never fatal, and the next answer is delivered whatever it holds.
   */
  onChange: (entries: KvEntries) => void | Promise<void>;
}

/** Every item as key → value. */
export function kvEntries(items: readonly KvItem[]): Map<string, string> {
  return new Map(items.map((item) => [item.key, item.value]));
}

/** True when both hold the same keys with the same values. */
export function sameEntries(a: KvEntries, b: KvEntries): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}

/**
 * Watches every KV key under a prefix with blocking queries (`GET /v1/kv/<prefix>?recurse&index=`), following the
 * same Consul rules as the catalog watcher: the index only moves forward (backwards → read again without blocking),
 * an index below 1 counts as 1, errors back off with jitter, queries are never closer than `minIntervalMs`, and
 * after a failure or a closed connection one read does not block. A prefix that does not exist (404) is empty.
 * A new index with the same keys and values (a PUT of the same value) reports nothing.
 */
export class KvWatcher {
  readonly #api: ConsulApi;
  readonly #prefix: string;
  readonly #onChange: KvWatcherOptions['onChange'];
  readonly #wait: string;
  readonly #sleep: Sleep;
  readonly #backoff: BackoffOptions;
  readonly #minIntervalMs: number;
  readonly #log: Logger;
  readonly #now: () => number;

  #index = 0;
  /** What `onChange` was last given; undefined before the first delivery, or after a failed one. */
  #delivered: KvEntries | undefined;
  #resync = false;
  #closedSeen = 0;
  #attempt = 0;
  #running = false;
  #lastSuccess: number | undefined;
  #requests = 0;
  readonly #firstAttempt: Promise<void>;
  #firstAttemptDone!: () => void;

  /** @throws WhisperError `CONFIG_INVALID` when `wait` is not a Consul duration. */
  constructor(options: KvWatcherOptions) {
    this.#api = options.api;
    this.#prefix = options.prefix;
    this.#onChange = options.onChange;
    this.#wait = options.wait ?? DEFAULT_CONSUL_WAIT;
    parseConsulDuration(this.#wait);
    this.#sleep = options.sleep ?? abortableSleep;
    this.#backoff = { baseMs: 250, maxMs: 30_000, ...options.backoff, ...(options.random ? { random: options.random } : {}) };
    this.#minIntervalMs = options.minIntervalMs ?? 100;
    this.#log = options.log ?? silentLogger();
    this.#now = options.now ?? Date.now;
    this.#firstAttempt = new Promise((resolve) => (this.#firstAttemptDone = resolve));
  }

  /**
   * Settles once the first query has been answered and delivered, or has failed, or the run stopped: the daemon
   * waits for it so the first plan holds the static entries along with the catalog. Never rejects.
   */
  get firstAttempt(): Promise<void> {
    return this.#firstAttempt;
  }

  /** When Consul last answered (per `now`); undefined before the first answer. */
  get lastSuccess(): number | undefined {
    return this.#lastSuccess;
  }

  /** Queries sent so far. */
  get requests(): number {
    return this.#requests;
  }

  /** Watches until `signal` aborts, then resolves (an abort is not an error). One run at a time. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new WhisperError('INTERNAL', `KvWatcher.run called while already running (${this.#prefix})`);
    this.#running = true;
    try {
      if (this.#api.kvList === undefined) throw new WhisperError('INTERNAL', 'this Consul client cannot list KV prefixes');
      while (!signal.aborted) {
        const started = this.#now();
        let delay: number;
        try {
          await this.#poll(signal);
          delay = this.#minIntervalMs - (this.#now() - started);
        } catch (err) {
          if (signal.aborted) break;
          delay = this.#failed(err);
        }
        this.#firstAttemptDone();
        if (delay > 0) {
          try {
            await this.#sleep(delay, signal);
          } catch (err) {
            if (signal.aborted) break;
            throw err;
          }
        }
      }
    } finally {
      this.#running = false;
      this.#firstAttemptDone();
    }
  }

  async #poll(signal: AbortSignal): Promise<void> {
    this.#requests++;
    // As in the catalog watcher: after a failure or a closed connection, Consul may be another (or a restored) agent
    // whose index is below ours; a blocking query would sleep its whole wait before showing that.
    const closed = this.#api.closedConnections?.() ?? 0;
    const reconnected = closed !== this.#closedSeen;
    this.#closedSeen = closed;
    const asked = this.#resync || reconnected ? 0 : this.#index;
    const answer = await this.#list(asked, signal);
    if (this.#attempt > 0) this.#log.info({ prefix: this.#prefix, failures: this.#attempt }, 'Consul KV prefix reachable again');
    this.#attempt = 0;
    this.#resync = false;
    this.#lastSuccess = this.#now();
    const index = Math.max(1, answer.index);
    if (index < this.#index) {
      this.#log.info({ prefix: this.#prefix, from: this.#index, to: index }, 'Consul KV index went backwards; reading the prefix again');
      this.#index = 0;
      if (asked > 0) return;
    }
    // A blocking answer at our index: its wait expired. A thrown 404 carries no index of its own: compare it.
    if (index === this.#index && asked > 0 && answer.notFound !== true) return;
    this.#index = index;
    await this.#deliver(kvEntries(answer.items), signal);
  }

  async #list(index: number, signal: AbortSignal): Promise<{ index: number; items: readonly KvItem[]; notFound?: boolean }> {
    try {
      // Checked in run(): kvList exists.
      return await this.#api.kvList!(this.#prefix, { index, wait: this.#wait, signal });
    } catch (err) {
      // node-consul answers a 404 (no key under the prefix) with an empty list and Consul's index; a client that
      // throws it instead gives no index: keep ours and block on it (Consul blocks on a missing prefix too).
      if (!isNotFound(err)) throw err;
      return { index: this.#index, items: [], notFound: true };
    }
  }

  async #deliver(entries: KvEntries, signal: AbortSignal): Promise<void> {
    if (this.#delivered !== undefined && sameEntries(this.#delivered, entries)) {
      this.#log.debug({ prefix: this.#prefix, index: this.#index }, 'Consul KV index moved, no entry changed');
      return;
    }
    this.#log.debug({ prefix: this.#prefix, index: this.#index, keys: entries.size }, 'Consul KV prefix changed');
    this.#delivered = entries;
    try {
      await this.#onChange(entries);
    } catch (err) {
      if (signal.aborted) return;
      // The caller missed this answer: deliver the next one whatever it holds.
      this.#delivered = undefined;
      this.#log.error({ prefix: this.#prefix, err: errorMessage(err) }, 'handling a Consul KV change failed');
    }
  }

  /** Logs a failed query once, and returns the delay before the next one. */
  #failed(err: unknown): number {
    this.#attempt++;
    this.#resync = true;
    const delay = backoffDelay(this.#attempt, this.#backoff);
    const fields = { prefix: this.#prefix, code: isWhisperError(err) ? err.code : 'INTERNAL', attempt: this.#attempt, delayMs: delay };
    const message = `Consul KV query failed: ${errorMessage(err)}; retrying in ${delay} ms`;
    if (isWhisperError(err) && err.retryable) this.#log.warn(fields, message);
    else this.#log.error(fields, message);
    return delay;
  }
}

/**
 * Runs the catalog watcher along with the KV watchers of static entries, all until `signal` aborts. The catalog
 * watcher starts once every KV watcher has made its first attempt, so the first plan holds both (see
 * `Reconciler.updateStatic`). A KV watcher that fails is logged and leaves the catalog watcher running; the KV
 * watchers stop when the catalog watcher does, for whatever reason.
 */
export async function runWithKvWatchers(
  catalog: { run(signal: AbortSignal): Promise<void> },
  watchers: readonly KvWatcher[],
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  const runs = watchers.map((w) => w.run(both).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'watching a Consul KV prefix stopped')));
  try {
    await Promise.all(watchers.map((w) => w.firstAttempt));
    await catalog.run(signal);
  } finally {
    stop.abort();
    await Promise.all(runs);
  }
}
