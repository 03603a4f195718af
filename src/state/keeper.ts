import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { systemTimers, type Timers } from '../time.js';
import { saveState } from './file.js';
import type { CertState, WhisperState } from './types.js';

/** Options of {@link StateKeeper}. */
export interface StateKeeperOptions {
  /**
   * Least time from the end of one write to the start of the next; the changes made meanwhile go out together.
   * @default 1000
   */
  readonly minIntervalMs?: number;
  /** @default systemTimers */
  readonly timers?: Timers;
}

/**
 * The daemon's in-memory state and its file. Changes are applied at once in memory and written in the
 * background, one write at a time (the latest state wins): the first change after a quiet spell is written at
 * once, later ones at most every `minIntervalMs`, so a burst of changes costs one or two writes.
 */
export class StateKeeper {
  // A Map changed in place: copying every certificate's entry on each change made a mass issuance quadratic.
  private readonly certs: Map<string, CertState>;
  private budget: WhisperState['budget'];
  private dirty = false;
  private writing: Promise<void> | undefined;
  private timer: unknown;
  private readonly minIntervalMs: number;
  private readonly timers: Timers;

  constructor(
    private readonly dir: string,
    initial: WhisperState,
    private readonly log: Logger,
    private readonly save: (dir: string, state: WhisperState) => Promise<void> = saveState,
    options: StateKeeperOptions = {},
  ) {
    this.certs = new Map(Object.entries(initial.certs));
    this.budget = initial.budget;
    this.minIntervalMs = options.minIntervalMs ?? 1000;
    this.timers = options.timers ?? systemTimers;
  }

  /** A snapshot of the state now (later changes do not show in it). */
  get state(): WhisperState {
    return { budget: [...this.budget], certs: Object.fromEntries(this.certs) };
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

  /** Replaces the budget history and schedules a write. */
  setBudget(budget: WhisperState['budget']): void {
    this.budget = budget;
    this.schedule();
  }

  /** Resolves when everything changed so far is on disk (or failed and was logged). */
  async flush(): Promise<void> {
    for (;;) {
      if (this.timer !== undefined) {
        this.timers.clearTimeout(this.timer);
        this.timer = undefined;
        this.start();
      }
      if (!this.writing) return;
      await this.writing;
    }
  }

  private schedule(): void {
    this.dirty = true;
    if (this.writing === undefined && this.timer === undefined) this.start();
  }

  private start(): void {
    this.writing = this.writeOnce().finally(() => {
      this.writing = undefined;
      if (this.dirty && this.timer === undefined) {
        this.timer = this.timers.setTimeout(() => {
          this.timer = undefined;
          this.start();
        }, this.minIntervalMs);
      }
    });
  }

  private async writeOnce(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.save(this.dir, { budget: this.budget, certs: Object.fromEntries(this.certs) });
    } catch (err) {
      // The state is an aid (budget, status), never a reason to stop issuing: keep going and retry on the next change.
      this.log.warn({ code: 'STORE_WRITE' }, `cannot write the state file: ${errorMessage(err)}`);
    }
  }
}

