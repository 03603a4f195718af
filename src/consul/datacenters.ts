import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { abortableSleep, backoffDelay, type BackoffOptions, type Sleep } from '../time.js';
import { DEFAULT_CONSUL_WAIT, parseConsulDuration } from './duration.js';
import { CatalogWatcher, type BlockingQueryOptions, type CatalogChange } from './watcher.js';

/** `--datacenter all`: every datacenter of `GET /v1/catalog/datacenters`, re-read every `refreshMs`. */
export const ALL_DATACENTERS = 'all';

/** Consul's datacenter names: letters, digits, `-` and `_` (so never `@`, the separator of {@link serviceKey}). */
export const DATACENTER_NAME = /^[A-Za-z0-9_-]+$/;

/** The key of service `name` of datacenter `dc` in the merged catalog: `web@dc2`. */
export function serviceKey(name: string, dc: string): string {
  return `${name}@${dc}`;
}

/** The service name of a {@link serviceKey} (`web` of `web@dc2`; a name may itself hold `@`, a datacenter never). */
export function serviceNameOf(key: string): string {
  const at = key.lastIndexOf('@');
  return at < 0 ? key : key.slice(0, at);
}

/** The datacenter of a {@link serviceKey}. */
export function datacenterOf(key: string): string {
  return key.slice(key.lastIndexOf('@') + 1);
}

/** Options of {@link DatacenterCatalog}. */
export interface DatacenterCatalogOptions extends BlockingQueryOptions {
  /** `--datacenter` values: names, and {@link ALL_DATACENTERS} for every datacenter the agent's servers know. */
  datacenters: readonly string[];
  /**
   * Called with the merged catalog (keys `web@dc2`, see {@link serviceKey}): once every datacenter watched from the
   * start made its first attempt (answered or failed), with `reset`; then for every change of one datacenter,
   * with only its keys. Awaited, one call at a time; an error is logged and that datacenter re-reports in full.
   */
  onChange: (change: CatalogChange) => void | Promise<void>;
  /** How often `all` re-reads the list of datacenters (a datacenter joining or leaving the WAN). @default 60000 */
  refreshMs?: number;
}

interface Watched {
  readonly watcher: CatalogWatcher;
  readonly stop: AbortController;
  readonly run: Promise<void>;
}

/**
 * The catalogs of several datacenters (`--datacenter`), each watched by its own {@link CatalogWatcher} (own index,
 * own backoff: an unreachable datacenter never holds the others up), merged into one catalog whose keys are
 * `<service>@<dc>`. The same service in two datacenters is two keys: the planner gives them the same hostnames, so
 * one certificate, whose services name both. With `all`, the datacenter list is re-read every `refreshMs`: a new
 * datacenter is watched, one gone from the list (Consul drops a datacenter whose servers left or were reaped from
 * the WAN; an unreachable one stays listed) stops being watched and its services leave the catalog. A datacenter that
 * cannot be reached keeps its last known services.
 */
export class DatacenterCatalog {
  readonly #options: DatacenterCatalogOptions;
  readonly #explicit: readonly string[];
  readonly #all: boolean;
  readonly #refreshMs: number;
  readonly #sleep: Sleep;
  readonly #backoff: BackoffOptions;
  readonly #log: Logger;
  readonly #watched = new Map<string, Watched>();
  readonly #merged = new Map<string, readonly string[]>();
  /** Until every datacenter watched from the start made its first attempt, changes only fill `#merged`. */
  #holding = true;
  /** The last `onChange` call: the next one waits for it. */
  #chain: Promise<void> = Promise.resolve();
  /** An `onChange` failed: the next one gets the whole merged catalog, with `reset`. */
  #resetNext = false;
  #running = false;

  /** @throws WhisperError `CONFIG_INVALID` for no datacenter, an invalid name, or a `wait` that is not a Consul duration. */
  constructor(options: DatacenterCatalogOptions) {
    this.#options = options;
    parseConsulDuration(options.wait ?? DEFAULT_CONSUL_WAIT);
    for (const dc of options.datacenters) {
      if (!DATACENTER_NAME.test(dc)) throw new WhisperError('CONFIG_INVALID', `invalid datacenter name ${JSON.stringify(dc)}`);
    }
    this.#all = options.datacenters.includes(ALL_DATACENTERS);
    this.#explicit = [...new Set(options.datacenters.filter((dc) => dc !== ALL_DATACENTERS))];
    if (!this.#all && this.#explicit.length === 0) throw new WhisperError('CONFIG_INVALID', 'no datacenter to watch');
    this.#refreshMs = options.refreshMs ?? 60_000;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#backoff = { baseMs: 1000, maxMs: 60_000, ...options.backoff, ...(options.random ? { random: options.random } : {}) };
    this.#log = options.log ?? silentLogger();
  }

  /** The datacenters watched now, sorted. */
  get datacenters(): string[] {
    return [...this.#watched.keys()].sort();
  }

  /** When any datacenter's catalog last answered (per `now`), for metrics and readiness; undefined before. */
  get lastSuccess(): number | undefined {
    let last: number | undefined;
    for (const { watcher } of this.#watched.values()) {
      const at = watcher.lastSuccess;
      if (at !== undefined && (last === undefined || at > last)) last = at;
    }
    return last;
  }

  /** Watches until `signal` aborts, then resolves once every datacenter's watcher stopped. One run at a time. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new WhisperError('INTERNAL', 'DatacenterCatalog.run called while already running');
    this.#running = true;
    try {
      const first = this.#all ? await this.#readList(signal) : this.#explicit;
      if (first === undefined) return;
      for (const dc of first) this.#start(dc, signal);
      await Promise.all([...this.#watched.values()].map((w) => w.watcher.firstAttempt));
      if (signal.aborted) return;
      this.#holding = false;
      this.#log.info({ datacenters: this.datacenters }, 'watching the Consul catalogs of these datacenters');
      await this.#deliver({ services: this.#merged, changed: new Set(this.#merged.keys()), removed: new Set(), reset: true }).catch((err: unknown) => {
        this.#log.error({ err: errorMessage(err) }, 'handling the Consul catalogs failed; the next change re-plans them all');
      });
      if (this.#all) await this.#refreshLoop(signal);
      else await waitForAbort(signal);
    } finally {
      const stopping = [...this.#watched.values()];
      for (const w of stopping) w.stop.abort();
      await Promise.all(stopping.map((w) => w.run));
      this.#watched.clear();
      this.#running = false;
    }
  }

  /** The explicit datacenters and those of the list, retried with backoff until Consul answers; undefined once aborted. */
  async #readList(signal: AbortSignal): Promise<string[] | undefined> {
    const api = this.#options.api;
    if (!api.datacenters) throw new WhisperError('INTERNAL', 'this Consul client cannot list datacenters');
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const listed = (await api.datacenters(signal)).filter((dc) => DATACENTER_NAME.test(dc));
        return [...new Set([...this.#explicit, ...listed])].sort();
      } catch (err) {
        if (signal.aborted) return undefined;
        const delay = backoffDelay(attempt, this.#backoff);
        const code = isWhisperError(err) ? err.code : 'INTERNAL';
        this.#log.warn({ code, attempt, delayMs: delay }, `listing Consul datacenters failed: ${errorMessage(err)}; retrying in ${delay} ms`);
        if (!(await this.#pause(delay, signal))) return undefined;
      }
    }
    return undefined;
  }

  async #refreshLoop(signal: AbortSignal): Promise<void> {
    while (await this.#pause(this.#refreshMs, signal)) {
      const now = await this.#readList(signal);
      if (now === undefined) return;
      const wanted = new Set(now);
      for (const dc of [...this.#watched.keys()]) if (!wanted.has(dc)) await this.#drop(dc);
      for (const dc of now) {
        if (this.#watched.has(dc)) continue;
        this.#log.info({ datacenter: dc }, 'a new Consul datacenter joined the WAN; watching its catalog');
        this.#start(dc, signal);
      }
    }
  }

  #start(dc: string, signal: AbortSignal): void {
    const stop = new AbortController();
    const watcher = new CatalogWatcher({
      ...this.#options,
      datacenter: dc,
      log: (this.#options.log ?? silentLogger()).child({ datacenter: dc }),
      onChange: (change) => this.#changed(dc, change),
    });
    const run = watcher.run(AbortSignal.any([signal, stop.signal])).catch((err: unknown) => {
      this.#log.error({ datacenter: dc, err: errorMessage(err) }, 'watching a Consul datacenter stopped');
    });
    this.#watched.set(dc, { watcher, stop, run });
  }

  /** Stops watching `dc` (gone from the datacenter list) and takes its services out of the catalog. */
  async #drop(dc: string): Promise<void> {
    const w = this.#watched.get(dc);
    if (!w) return;
    this.#watched.delete(dc);
    w.stop.abort();
    await w.run;
    const removed = new Set([...this.#merged.keys()].filter((key) => datacenterOf(key) === dc));
    for (const key of removed) this.#merged.delete(key);
    this.#log.info({ datacenter: dc, services: removed.size }, 'a Consul datacenter left the WAN; its services are no longer watched');
    await this.#deliver({ services: this.#merged, changed: new Set(), removed, reset: false }).catch((err: unknown) => {
      this.#log.error({ datacenter: dc, err: errorMessage(err) }, 'handling a Consul datacenter leaving failed');
    });
  }

  /** One datacenter's change, into the merged catalog. */
  #changed(dc: string, change: CatalogChange): Promise<void> {
    const changed = new Set<string>();
    const removed = new Set<string>();
    if (change.reset) {
      for (const key of [...this.#merged.keys()]) {
        if (datacenterOf(key) === dc && !change.services.has(serviceNameOf(key))) removed.add(key);
      }
    }
    const names = change.reset ? change.services.keys() : change.changed;
    for (const name of names) {
      const tags = change.services.get(name);
      if (tags !== undefined) {
        this.#merged.set(serviceKey(name, dc), tags);
        changed.add(serviceKey(name, dc));
      }
    }
    for (const name of change.removed) removed.add(serviceKey(name, dc));
    for (const key of removed) this.#merged.delete(key);
    if (this.#holding || (changed.size === 0 && removed.size === 0)) return Promise.resolve();
    return this.#deliver({ services: this.#merged, changed, removed, reset: false });
  }

  /** Calls `onChange`, after the call before it ended; after a failed call, with the whole catalog and `reset`. */
  #deliver(change: CatalogChange): Promise<void> {
    const next = this.#chain
      .then(() => {
        const full = this.#resetNext;
        this.#resetNext = false;
        return this.#options.onChange(full ? { ...change, changed: new Set(this.#merged.keys()), reset: true } : change);
      })
      .catch((err: unknown) => {
        this.#resetNext = true;
        throw err;
      });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Sleeps; false once `signal` aborted. */
  async #pause(ms: number, signal: AbortSignal): Promise<boolean> {
    try {
      await this.#sleep(ms, signal);
    } catch (err) {
      if (signal.aborted) return false;
      throw err;
    }
    return !signal.aborted;
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
