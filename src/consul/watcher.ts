import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { abortableSleep, backoffDelay, type BackoffOptions, type Sleep } from '../time.js';
import type { CatalogServices, ConsulApi } from './api.js';
import { applyCatalog, type ServiceTags } from './diff.js';
import { DEFAULT_CONSUL_WAIT, parseConsulDuration } from './duration.js';

/** One change of the catalog, as {@link CatalogWatcher} reports it. */
export interface CatalogChange {
  /**
   * Every service now, by name, with its tags (sorted, unique). The watcher's own snapshot, updated in place on the
   * next change (a catalog of 10,000 services is not copied on every change): read it during `onChange`, do not keep it.
   */
  readonly services: ServiceTags;
  /** Services that are new or whose tag set changed since the last report (all of them in the first report). */
  readonly changed: ReadonlySet<string>;
  /** Services gone since the last report. */
  readonly removed: ReadonlySet<string>;
  /**
   * The watch restarted (Consul's index went backwards, e.g. a restored snapshot or a fresh agent; or the previous
   * `onChange` failed): `changed`/`removed` still compare with the last report, but re-plan everything.
   */
  readonly reset: boolean;
}

/** Options of {@link CatalogWatcher}. */
export interface CatalogWatcherOptions extends BlockingQueryOptions {
  /** Called for the first answer and for every change after; awaited, and its errors are logged, never fatal. */
  onChange: (change: CatalogChange) => void | Promise<void>;
  /** Datacenter to watch (`?dc=`, see `consul/datacenters.ts`). @default the agent's own, with no `dc` parameter */
  datacenter?: string;
}

/** What every blocking-query watcher (the catalog's, `--listen-path`'s KV prefixes) takes besides its callback. */
export interface BlockingQueryOptions {
  api: ConsulApi;
  /** Longest wait of one blocking query. @default '5m' */
  wait?: string;
  /** @default abortableSleep */
  sleep?: Sleep;
  /** Jitter source of the backoff (overrides `backoff.random`). @default Math.random */
  random?: () => number;
  /** Backoff after failed queries. @default base 250 ms, max 30 s, factor 2, jitter ±20 % */
  backoff?: BackoffOptions;
  /** Least time between the starts of two queries, even when Consul answers at once. @default 100 */
  minIntervalMs?: number;
  /** @default a silent logger */
  log?: Logger;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Watches Consul's service catalog with blocking queries and reports which services appeared, changed their tags
 * or went away. Follows Consul's blocking-query rules: the index only moves forward (backwards → start over),
 * an index below 1 counts as 1, errors back off with jitter, and queries are never closer than `minIntervalMs`.
 * After a failure or a closed connection it reads once without blocking, and compares that read with the catalog it
 * holds even when the index is the same (a restarted agent may have climbed back to it with other services).
 */
export class CatalogWatcher {
  readonly #api: ConsulApi;
  readonly #onChange: CatalogWatcherOptions['onChange'];
  readonly #wait: string;
  readonly #sleep: Sleep;
  readonly #backoff: BackoffOptions;
  readonly #minIntervalMs: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #dc: string | undefined;
  /** How log lines name what is watched. */
  readonly #what: string;

  #index = 0;
  readonly #snapshot = new Map<string, readonly string[]>();
  /** Whether `#snapshot` holds an answer yet. */
  #read = false;
  #reset = false;
  #resync = false;
  /** `api.closedConnections()` when the last query was sent. */
  #closedSeen = 0;
  #attempt = 0;
  #running = false;
  #lastSuccess: number | undefined;
  #requests = 0;
  readonly #firstAttempt: Promise<void>;
  #firstAttemptDone!: () => void;

  /** @throws WhisperError `CONFIG_INVALID` when `wait` is not a Consul duration. */
  constructor(options: CatalogWatcherOptions) {
    this.#api = options.api;
    this.#onChange = options.onChange;
    this.#wait = options.wait ?? DEFAULT_CONSUL_WAIT;
    // A bad wait is a configuration error: fail now, not in every query of the loop.
    parseConsulDuration(this.#wait);
    this.#sleep = options.sleep ?? abortableSleep;
    this.#backoff = {
      baseMs: 250,
      maxMs: 30_000,
      ...options.backoff,
      ...(options.random ? { random: options.random } : {}),
    };
    this.#minIntervalMs = options.minIntervalMs ?? 100;
    this.#log = options.log ?? silentLogger();
    this.#now = options.now ?? Date.now;
    this.#dc = options.datacenter;
    this.#what = this.#dc === undefined ? 'Consul catalog' : `Consul catalog of datacenter ${this.#dc}`;
    this.#firstAttempt = new Promise((resolve) => (this.#firstAttemptDone = resolve));
  }

  /** Settles once the first query has been answered (and reported) or has failed, or the run stopped before. */
  get firstAttempt(): Promise<void> {
    return this.#firstAttempt;
  }

  /** When Consul last answered (per `now`), for metrics and readiness; undefined before the first answer. */
  get lastSuccess(): number | undefined {
    return this.#lastSuccess;
  }

  /** Queries sent so far. */
  get requests(): number {
    return this.#requests;
  }

  /** Watches until `signal` aborts, then resolves (an abort is not an error). One run at a time. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new WhisperError('INTERNAL', 'CatalogWatcher.run called while already running');
    this.#running = true;
    try {
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
      this.#firstAttemptDone();
      this.#running = false;
    }
  }

  async #poll(signal: AbortSignal): Promise<void> {
    this.#requests++;
    // After a failure, or once a connection to Consul closed (an agent stopping closes its idle ones), Consul may be
    // another agent or a restored one, whose index is lower than ours: a blocking query would then sleep its whole
    // wait before showing that. Ask without blocking once, and compare.
    const closed = this.#api.closedConnections?.() ?? 0;
    const reconnected = closed !== this.#closedSeen;
    this.#closedSeen = closed;
    const asked = this.#resync || reconnected ? 0 : this.#index;
    const answer = await this.#api.catalogServices({ index: asked, wait: this.#wait, signal, ...(this.#dc === undefined ? {} : { dc: this.#dc }) });
    if (this.#attempt > 0) this.#log.info({ failures: this.#attempt }, `${this.#what} reachable again`);
    this.#attempt = 0;
    this.#resync = false;
    this.#lastSuccess = this.#now();
    // Consul should never send an index below 1, but some versions did; blocking on 0 would return at once forever.
    const index = Math.max(1, answer.index);
    if (index < this.#index) {
      this.#log.info({ from: this.#index, to: index }, 'Consul catalog index went backwards; re-reading the whole catalog');
      this.#index = 0;
      this.#reset = true;
      // A blocking answer: start over with a full read. A non-blocking answer already is that read.
      if (asked > 0) return;
    }
    // A blocking answer at our index: its wait expired, nothing changed. A non-blocking one is compared whatever its
    // index: an agent restarted empty can climb back to our index with another catalog before we ask again.
    if (index === this.#index && asked > 0) return;
    this.#index = index;
    await this.#deliver(answer.services, signal);
  }

  async #deliver(raw: CatalogServices['services'], signal: AbortSignal): Promise<void> {
    const first = !this.#read;
    const reset = this.#reset;
    const { changed, removed } = applyCatalog(this.#snapshot, raw);
    const services: ServiceTags = this.#snapshot;
    this.#read = true;
    this.#reset = false;
    if (!first && !reset && changed.size === 0 && removed.size === 0) {
      this.#log.debug({ index: this.#index }, 'Consul catalog index moved, no service tags changed');
      return;
    }
    this.#log.debug({ index: this.#index, changed: changed.size, removed: removed.size, reset }, 'Consul catalog changed');
    try {
      await this.#onChange({ services, changed, removed, reset });
    } catch (err) {
      if (signal.aborted) return;
      // The caller missed this change: have it re-plan everything with the next one.
      this.#reset = true;
      this.#log.error({ err: errorMessage(err) }, 'handling a Consul catalog change failed');
    }
  }

  /** Logs a failed query once, and returns the delay before the next one. */
  #failed(err: unknown): number {
    this.#attempt++;
    this.#resync = true;
    const delay = backoffDelay(this.#attempt, this.#backoff);
    const fields = { code: isWhisperError(err) ? err.code : 'INTERNAL', attempt: this.#attempt, delayMs: delay };
    const message =
      this.#dc === undefined
        ? `Consul catalog query failed: ${errorMessage(err)}; retrying in ${delay} ms`
        : `datacenter ${this.#dc} unreachable, the others go on: ${errorMessage(err)}; retrying in ${delay} ms`;
    if (isWhisperError(err) && err.retryable) this.#log.warn(fields, message);
    else this.#log.error(fields, message);
    return delay;
  }
}
