import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { backoffDelay, systemTimers, type Timers } from '../time.js';
import { saveState, statePath } from './file.js';
import type { CertState, TargetJournalData, TargetRecord, WhisperState } from './types.js';

/** Options of {@link StateKeeper}. */
export interface StateKeeperOptions {
  /**
   * Least time from the end of one write to the start of the next; the changes made meanwhile go out together.
   * @default 1000
   */
  readonly minIntervalMs?: number;
  /** @default systemTimers */
  readonly timers?: Timers;
  /**
   * Longest wait between retries of a write that keeps failing (they start at `minIntervalMs`, at least a second,
   * and double). @default 300000
   */
  readonly maxRetryMs?: number;
  /** Jitter source of the retry delays. @default Math.random */
  readonly random?: () => number;
  /** What is written, for logs: its name and path. @default the state file */
  readonly label?: { readonly what: string; readonly file: string };
}

/**
 * The daemon's in-memory state and its file. Changes are applied at once in memory and written in the
 * background, one write at a time (the latest state wins): the first change after a quiet spell is written at
 * once, later ones at most every `minIntervalMs`, so a burst of changes costs one or two writes. A failed write
 * keeps the changes pending and is retried by itself, with backoff while it keeps failing; a failure streak is
 * logged once (warning) and its end once (info).
 */
export class StateKeeper {
  // A Map changed in place: copying every certificate's entry on each change made a mass issuance quadratic.
  private readonly certs: Map<string, CertState>;
  private budget: WhisperState['budget'];
  /** The delivery journal of shared targets: target name → certificate id → record (never pruned by {@link prune}). */
  private readonly targets: Map<string, Map<string, TargetRecord>>;
  private dirty = false;
  /** Failed writes in a row. */
  private failures = 0;
  private writing: Promise<void> | undefined;
  private timer: unknown;
  private readonly minIntervalMs: number;
  private readonly maxRetryMs: number;
  private readonly random: () => number;
  private readonly timers: Timers;
  private readonly label: { readonly what: string; readonly file: string };

  constructor(
    private readonly dir: string,
    initial: WhisperState,
    private readonly log: Logger,
    private readonly save: (dir: string, state: WhisperState) => Promise<void> = saveState,
    options: StateKeeperOptions = {},
  ) {
    this.certs = new Map(Object.entries(initial.certs));
    this.budget = initial.budget;
    this.targets = new Map(Object.entries(initial.targets ?? {}).map(([name, certs]) => [name, new Map(Object.entries(certs))]));
    this.minIntervalMs = options.minIntervalMs ?? 1000;
    this.maxRetryMs = options.maxRetryMs ?? 300_000;
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? systemTimers;
    this.label = options.label ?? { what: 'state file', file: statePath(dir) };
  }

  /** A snapshot of the state now (later changes do not show in it). */
  get state(): WhisperState {
    return { budget: [...this.budget], certs: Object.fromEntries(this.certs), ...this.targetsSnapshot() };
  }

  private targetsSnapshot(): { targets?: TargetJournalData } {
    if (this.targets.size === 0) return {};
    return { targets: Object.fromEntries([...this.targets].map(([name, certs]) => [name, Object.fromEntries(certs)])) };
  }

  /** What target `name` recorded for certificate `id` (the delivery journal), if anything. */
  targetRecord(name: string, id: string): TargetRecord | undefined {
    return this.targets.get(name)?.get(id);
  }

  /** Every record of target `name`, by certificate id. */
  targetRecords(name: string): ReadonlyMap<string, TargetRecord> {
    return this.targets.get(name) ?? new Map<string, TargetRecord>();
  }

  /** Replaces (or with `undefined`, drops) what target `name` recorded for `id`, and schedules a write if it changed. */
  setTargetRecord(name: string, id: string, record: TargetRecord | undefined): void {
    const certs = this.targets.get(name);
    const old = certs?.get(id);
    if (record === undefined) {
      if (!certs?.delete(id)) return;
      if (certs.size === 0) this.targets.delete(name);
      this.schedule();
      return;
    }
    const next = Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as TargetRecord;
    if (old !== undefined && isDeepStrictEqual(old, next)) return;
    if (certs) certs.set(id, next);
    else this.targets.set(name, new Map([[id, next]]));
    this.schedule();
  }

  /** One certificate's state. */
  cert(id: string): CertState {
    return this.certs.get(id) ?? {};
  }

  /** Replaces one certificate's state (`undefined` fields are dropped) and schedules a write if it changed. */
  setCert(id: string, update: (old: CertState) => CertState): void {
    const old = this.cert(id);
    const next = Object.fromEntries(Object.entries(update(old)).filter(([, v]) => v !== undefined)) as CertState;
    // Dates compare by their time: a rewrite of the same values is not a change.
    if (this.certs.has(id) && isDeepStrictEqual(old, next)) return;
    this.certs.set(id, next);
    this.schedule();
  }

  /** Drops one certificate's entry (its files were removed) and schedules a write if there was one. */
  deleteCert(id: string): void {
    if (this.certs.delete(id)) this.schedule();
  }

  /** Ids of the certificates with an entry. */
  ids(): string[] {
    return [...this.certs.keys()];
  }

  /** Replaces the budget history and schedules a write. */
  setBudget(budget: WhisperState['budget']): void {
    this.budget = budget;
    this.schedule();
  }

  /**
   * Drops the entries of every certificate not in `keep` (give it the ids wanted and the ids of the files in the
   * folder: an entry of neither is of a certificate that no longer exists) and schedules a write if any went.
   * @returns how many entries were dropped.
   */
  prune(keep: Iterable<string>): number {
    const kept = new Set(keep);
    let dropped = 0;
    for (const id of this.certs.keys()) {
      if (kept.has(id)) continue;
      this.certs.delete(id);
      dropped += 1;
    }
    if (dropped > 0) this.schedule();
    return dropped;
  }

  /**
   * Resolves when everything changed so far is on disk, or its write failed once more (logged). After a failed
   * flush (the daemon's last write, at stop) nothing is retried in the background: the changes stay pending, and
   * the next change or flush writes them.
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.writing) await this.writing;
      this.cancelTimer();
      if (!this.dirty) return;
      const failures = this.failures;
      this.start();
      await this.writing;
      if (this.failures > failures) {
        this.cancelTimer();
        return;
      }
    }
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.dirty = true;
    if (this.writing === undefined && this.timer === undefined) this.start();
  }

  private start(): void {
    this.writing = this.writeOnce().finally(() => {
      this.writing = undefined;
      if (this.dirty && this.timer === undefined) {
        const delay =
          this.failures === 0
            ? this.minIntervalMs
            : backoffDelay(this.failures, { baseMs: Math.max(this.minIntervalMs, 1000), maxMs: this.maxRetryMs, random: this.random });
        this.timer = this.timers.setTimeout(() => {
          this.timer = undefined;
          this.start();
        }, delay);
      }
    });
  }

  private async writeOnce(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.save(this.dir, { budget: this.budget, certs: Object.fromEntries(this.certs), ...this.targetsSnapshot() });
    } catch (err) {
      // The state is an aid (budget, status), never a reason to stop issuing: keep the changes and retry.
      this.dirty = true;
      this.failures += 1;
      // The message of a failed atomic write names the file already; `file` is there for the other failures.
      const fields = { code: 'STORE_WRITE', file: this.label.file, attempt: this.failures };
      const message = `cannot write the ${this.label.what}: ${errorMessage(err)}`;
      if (this.failures === 1) this.log.warn(fields, `${message}; retrying with backoff`);
      else this.log.debug(fields, message);
      return;
    }
    if (this.failures > 0) this.log.info({ file: this.label.file, failedAttempts: this.failures }, `${this.label.what} written again`);
    this.failures = 0;
  }
}
