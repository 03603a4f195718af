import { WhisperError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { WantedCert } from '../plan/types.js';
import { systemTimers, type BackoffOptions, type Timers } from '../time.js';
import { sameNames, snapshotOf, type Entry } from './entry.js';
import { decideRetry } from './retry.js';
import type { EnqueueOptions, JobRunner, QueueEntry, QueueEvent, QueueOptions } from './types.js';

/** Node's timers overflow beyond this; longer waits are scheduled in steps. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The issuance queue: one job per certificate id, at most `concurrency` at once, FIFO, retried with backoff.
 * Every job, whatever started it, flows through here, so retries and their logs live in one place.
 */
export class IssuanceQueue {
  readonly #run: JobRunner;
  readonly #concurrency: number;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #retry: BackoffOptions;
  readonly #log: Logger;
  readonly #onEvent: ((event: QueueEvent) => void) | undefined;

  readonly #entries = new Map<string, Entry>();
  /** Ids waiting for a free slot; a Set iterates in insertion order, which makes it a FIFO with O(1) removal. */
  readonly #pending = new Set<string>();
  readonly #inflight = new Set<Promise<void>>();
  #idleWaiters: Array<() => void> = [];
  #running = 0;
  #stopped = false;

  /** @throws WhisperError `CONFIG_INVALID` when `concurrency` is not a positive integer. */
  constructor(options: QueueOptions) {
    const concurrency = options.concurrency ?? 128;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new WhisperError('CONFIG_INVALID', `issuance queue concurrency must be a positive integer, got ${concurrency}`);
    }
    this.#run = options.run;
    this.#concurrency = concurrency;
    this.#timers = options.timers ?? systemTimers;
    this.#now = options.now ?? Date.now;
    this.#retry = options.retry ?? {};
    this.#log = options.log ?? silentLogger();
    this.#onEvent = options.onEvent;
  }

  /** Jobs pending, deferred or running. */
  get size(): number {
    return this.#entries.size;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }

  /** Whether a job for `id` is queued (pending, deferred, or running and not removed). */
  has(id: string): boolean {
    const entry = this.#entries.get(id);
    return entry !== undefined && !entry.removed;
  }

  /**
   * Queues a job for `cert`. An id already pending keeps its place with the newer certificate; a running one runs
   * once more afterwards; a deferred one stays deferred unless its names changed (then it is due now, attempts reset).
   * Ignored after {@link stop}.
   */
  enqueue(cert: WantedCert, reason: string, opts: EnqueueOptions = {}): void {
    if (this.#stopped) {
      this.#log.debug({ id: cert.id, reason }, 'queue stopped; job not queued');
      return;
    }
    const notBefore = opts.notBefore?.getTime() ?? 0;
    const entry = this.#entries.get(cert.id);
    if (entry === undefined) {
      const created: Entry = { id: cert.id, cert, reason, state: 'pending', attempt: 1, holdUntil: notBefore, removed: false };
      this.#entries.set(cert.id, created);
      this.#emit({ type: 'queued', id: cert.id, attempt: 1, reason });
      this.#makeDue(created);
    } else {
      entry.holdUntil = opts.urgent === true ? notBefore : Math.max(entry.holdUntil, notBefore);
      if (entry.state === 'running') {
        entry.removed = false;
        entry.again = { cert, reason };
        this.#emit({ type: 'queued', id: cert.id, attempt: 1, reason });
      } else if (entry.state === 'deferred' && sameNames(entry.cert, cert) && opts.urgent !== true) {
        entry.cert = cert;
        entry.reason = reason;
        if (entry.holdUntil > (entry.nextAt ?? 0)) this.#schedule(entry, entry.holdUntil);
      } else {
        if (entry.state === 'deferred') entry.attempt = 1; // new names deserve a fresh attempt
        entry.cert = cert;
        entry.reason = reason;
        if (entry.state === 'deferred' || entry.holdUntil > this.#now()) this.#makeDue(entry);
      }
    }
    this.#pump();
  }

  /** The certificate is no longer wanted: drops its pending or deferred job; a running one finishes and is not re-run. */
  remove(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.removed) return;
    if (entry.state === 'running') {
      entry.removed = true;
      entry.again = undefined;
    } else {
      this.#forget(entry);
    }
    this.#emit({ type: 'dropped', id, attempt: entry.attempt });
    this.#checkIdle();
  }

  /**
   * Holds the job for `id` until `until` (never brings it earlier). A running job's next run, if any, waits too.
   * An unknown id is ignored: the hold is kept only while the job is queued.
   */
  defer(id: string, until: Date): void {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.removed || this.#stopped) return;
    entry.holdUntil = Math.max(entry.holdUntil, until.getTime());
    if (entry.state === 'running') return;
    if (entry.state === 'pending' && entry.holdUntil <= this.#now()) return; // keep its place in line
    const at = Math.max(entry.holdUntil, entry.state === 'deferred' ? (entry.nextAt ?? 0) : 0);
    this.#schedule(entry, at);
    this.#emit({ type: 'deferred', id, attempt: entry.attempt, delayMs: Math.max(0, at - this.#now()) });
    this.#checkIdle();
  }

  /** The jobs for `status`: running, then pending in order, then deferred by due time. */
  snapshot(): QueueEntry[] {
    return snapshotOf(this.#entries.values(), [...this.#pending]);
  }

  /** Resolves once nothing is pending or running (deferred jobs do not count). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops: drops pending and deferred jobs, cancels their timers, aborts running jobs' signals and resolves once those
   * have settled. Nothing is retried afterwards and later `enqueue` calls are ignored. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      const reason = new WhisperError('ABORTED', 'issuance queue stopping');
      for (const entry of [...this.#entries.values()]) {
        if (entry.state === 'running') {
          entry.again = undefined;
          entry.controller?.abort(reason);
        } else {
          this.#forget(entry);
          this.#emit({ type: 'dropped', id: entry.id, attempt: entry.attempt });
        }
      }
    }
    await Promise.all([...this.#inflight]);
    this.#checkIdle();
  }

  /** Due now (pending, at the back of the line) unless held: then deferred until the hold ends. */
  #makeDue(entry: Entry): void {
    const now = this.#now();
    if (entry.holdUntil > now) {
      this.#schedule(entry, entry.holdUntil);
      this.#emit({ type: 'deferred', id: entry.id, attempt: entry.attempt, delayMs: entry.holdUntil - now });
      return;
    }
    this.#clearTimer(entry);
    entry.state = 'pending';
    entry.nextAt = undefined;
    this.#pending.delete(entry.id);
    this.#pending.add(entry.id);
  }

  #schedule(entry: Entry, at: number): void {
    this.#clearTimer(entry);
    this.#pending.delete(entry.id);
    entry.state = 'deferred';
    entry.nextAt = at;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.#now()));
    entry.timer = this.#timers.setTimeout(() => {
      entry.timer = undefined;
      if (this.#stopped || this.#entries.get(entry.id) !== entry || entry.state !== 'deferred') return;
      if (delay === MAX_TIMER_MS && at > this.#now()) {
        this.#schedule(entry, at);
        return;
      }
      entry.state = 'pending';
      entry.nextAt = undefined;
      this.#pending.add(entry.id);
      this.#pump();
    }, delay);
  }

  #clearTimer(entry: Entry): void {
    if (entry.timer === undefined) return;
    this.#timers.clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  #forget(entry: Entry): void {
    this.#clearTimer(entry);
    this.#pending.delete(entry.id);
    this.#entries.delete(entry.id);
  }

  #pump(): void {
    while (!this.#stopped && this.#running < this.#concurrency) {
      const id = this.#pending.values().next().value;
      if (id === undefined) break;
      this.#pending.delete(id);
      const entry = this.#entries.get(id);
      if (entry !== undefined) this.#start(entry);
    }
    this.#checkIdle();
  }

  #start(entry: Entry): void {
    const controller = new AbortController();
    const { cert, attempt, reason } = entry;
    entry.state = 'running';
    entry.controller = controller;
    this.#running++;
    this.#emit({ type: 'started', id: entry.id, attempt, reason });
    this.#log.debug({ id: entry.id, attempt, reason }, 'certificate job started');
    const job = this.#execute(entry, cert, { signal: controller.signal, attempt, reason });
    this.#inflight.add(job);
    void job.then(() => this.#inflight.delete(job));
  }

  async #execute(entry: Entry, cert: WantedCert, ctx: { signal: AbortSignal; attempt: number; reason: string }): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      // Start on a later microtask: enqueue() must never run job code inside its caller.
      await Promise.resolve();
      if (ctx.signal.aborted) throw new WhisperError('ABORTED', `certificate job ${entry.id} aborted before it started`);
      await this.#run(cert, ctx);
    } catch (error) {
      failure = { error };
    }
    this.#running--;
    entry.controller = undefined;
    try {
      if (failure) this.#failed(entry, ctx.attempt, failure.error);
      else this.#succeeded(entry, ctx.attempt);
    } catch (err) {
      // A bug here must not leave the entry stuck as running forever.
      this.#log.error({ id: entry.id, err: errorMessage(err) }, 'issuance queue bookkeeping failed');
      this.#forget(entry);
    }
    this.#pump();
  }

  #succeeded(entry: Entry, attempt: number): void {
    this.#emit({ type: 'succeeded', id: entry.id, attempt });
    this.#log.debug({ id: entry.id, attempt }, 'certificate job succeeded');
    const again = entry.again;
    entry.again = undefined;
    if (this.#stopped || entry.removed || again === undefined) {
      this.#entries.delete(entry.id);
      return;
    }
    entry.lastError = undefined;
    entry.cert = again.cert;
    entry.reason = again.reason;
    entry.attempt = 1;
    this.#makeDue(entry);
  }

  #failed(entry: Entry, attempt: number, error: unknown): void {
    const now = this.#now();
    const decision = decideRetry(error, attempt, now, this.#retry);
    const base = { id: entry.id, attempt, code: decision.code };
    entry.lastError = { code: decision.code, message: decision.message, at: new Date(now) };
    if (this.#stopped || entry.removed) {
      this.#emit({ type: 'failed', ...base });
      this.#log.info(base, `certificate job ended without retry (${this.#stopped ? 'queue stopped' : 'no longer wanted'}): ${decision.message}`);
      this.#entries.delete(entry.id);
      return;
    }
    if (decision.notBefore !== undefined) entry.holdUntil = Math.max(entry.holdUntil, decision.notBefore);
    const again = entry.again;
    entry.again = undefined;
    let at: number;
    if (again !== undefined && !sameNames(again.cert, entry.cert)) {
      entry.attempt = 1; // new names deserve a fresh attempt
      at = Math.max(now, entry.holdUntil);
    } else {
      entry.attempt = attempt + 1;
      at = Math.max(decision.at, entry.holdUntil);
    }
    if (again !== undefined) {
      entry.cert = again.cert;
      entry.reason = again.reason;
    }
    if (at > now) this.#schedule(entry, at);
    else this.#makeDue(entry);
    this.#emit({ type: 'failed', ...base, delayMs: at - now });
    const fields = { ...base, retryable: decision.retryable, nextAttempt: new Date(at).toISOString() };
    const why = decision.retryable ? '' : ' (not retryable: retrying at the maximum delay in case DNS or configuration is fixed)';
    this.#log.warn(fields, `certificate job failed${why}: ${decision.message}`);
  }

  #isIdle(): boolean {
    return this.#pending.size === 0 && this.#running === 0;
  }

  #checkIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #emit(event: QueueEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch (err) {
      this.#log.error({ id: event.id, event: event.type, err: errorMessage(err) }, 'queue event listener threw');
    }
  }
}
