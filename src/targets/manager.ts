import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TargetRecord } from '../state/types.js';
import type { StoredCert } from '../store/types.js';
import { heldTimers, systemTimers, type Timers } from '../time.js';
import { readBundleItem, type BundleItem } from './bundle.js';
import type { TargetJournal } from './journal.js';
import type { DeliveryManagerOptions, DeliveryResult } from './manager-options.js';
import { retryDelay } from './retry.js';
import type { Target } from './types.js';

export type { DeliveryManagerOptions, DeliveryMetrics, DeliveryResult } from './manager-options.js';

type Work = { readonly kind: 'deliver'; readonly id: string; readonly serial: string; readonly path: string; readonly item?: BundleItem } | { readonly kind: 'remove'; readonly id: string; readonly path: string };

/** One (target, certificate) pair: one job at a time, the newest work queued behind it. */
interface Slot {
  readonly lane: Lane;
  readonly id: string;
  next?: Work;
  running?: Promise<void>;
  timer?: unknown;
  /** Failures in a row of the work being retried. */
  attempt: number;
}

/** One target's slots and its share of concurrency. */
interface Lane {
  readonly target: Target;
  readonly journal: TargetJournal;
  readonly slots: Map<string, Slot>;
  readonly waiting: Set<Slot>;
  active: number;
}

/**
 * Delivers stored certificates to the targets (see `targets/types.ts`), beside the folder and never in the way of
 * issuing: {@link delivered} and {@link removed} return at once and never throw. Per target and certificate one
 * job at a time, the newest work wins over what was queued, a failure is retried with exponential backoff and
 * jitter (or at the destination's `Retry-After`), and each outcome is journaled: a serial recorded as delivered is
 * skipped, and at start ({@link resume}) whatever the journal lacks is delivered.
 */
export class DeliveryManager {
  private readonly lanes: Lane[];
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly load: (id: string, path: string) => Promise<BundleItem | undefined>;
  private readonly concurrency: number;
  private readonly root = new AbortController();
  private stopping = false;
  /** Housekeeping runs in flight, per target name (one at a time each). */
  private readonly sweeping = new Map<string, Promise<void>>();

  constructor(private readonly options: DeliveryManagerOptions) {
    this.lanes = options.targets.map((target) => ({ target, journal: options.journal(target), slots: new Map(), waiting: new Set(), active: 0 }));
    this.timers = options.timers ?? systemTimers;
    this.now = options.now ?? Date.now;
    this.load = options.load ?? readBundleItem;
    this.concurrency = options.concurrency ?? 4;
  }

  /** The target names, in their order. */
  get names(): string[] {
    return this.lanes.map((l) => l.target.name);
  }

  /** A certificate was written to the folder (by this instance): every target gets it. */
  delivered(item: BundleItem): void {
    for (const lane of this.lanes) {
      if (this.options.accepts?.(lane.target.name, item.id) === false) continue;
      this.submit(lane, { kind: 'deliver', id: item.id, serial: item.serial, path: item.path, item });
    }
  }

  /** A superseded certificate was removed from the folder: each target that can takes it away too (journaled first). */
  removed(item: { readonly id: string; readonly path: string }): void {
    for (const lane of this.lanes) {
      const record = lane.journal.get(lane.target.name, item.id);
      if (!lane.target.remove) {
        lane.journal.set(lane.target.name, item.id, undefined);
        continue;
      }
      lane.journal.set(lane.target.name, item.id, { ...record, removing: item.path });
      this.submit(lane, { kind: 'remove', id: item.id, path: item.path });
    }
  }

  /**
   * At start, from the certificates in the folder (`files`): delivers each whose serial a target did not record as
   * delivered (a delivery a kill interrupted, a target configured since), retries the removals journaled, and drops
   * the records of certificates gone from the folder with nothing left to do.
   */
  resume(files: readonly StoredCert[]): void {
    const present = new Map(files.map((f) => [f.id, f]));
    for (const lane of this.lanes) {
      const { name } = lane.target;
      for (const f of files) {
        const record = lane.journal.get(name, f.id);
        if (record?.removing === undefined && record?.delivered === f.serial) continue;
        if (this.options.accepts?.(name, f.id) === false) continue;
        this.submit(lane, { kind: 'deliver', id: f.id, serial: f.serial, path: f.path });
      }
      for (const [id, record] of [...lane.journal.records(name)]) {
        if (present.has(id)) continue;
        if (record.removing !== undefined && lane.target.remove) this.submit(lane, { kind: 'remove', id, path: record.removing });
        else lane.journal.set(name, id, undefined);
      }
    }
  }

  /**
   * Runs each target's housekeeping (`sweep`: IAM deletes the expired certificates it uploaded), in the background,
   * one run per target at a time; a failure is logged and waits for the next sweep. Called at start and with each
   * renewal sweep.
   */
  sweep(): void {
    for (const { target } of this.lanes) {
      if (!target.sweep || this.stopping || this.sweeping.has(target.name)) continue;
      const log = this.options.log.child({ target: target.name });
      const sweep = target.sweep.bind(target);
      const run = Promise.resolve()
        .then(() => sweep({ log, now: this.now }, this.root.signal))
        .catch((err: unknown) => {
          if (!this.root.signal.aborted) log.warn({ code: isWhisperError(err) ? err.code : 'INTERNAL', err: errorMessage(err) }, 'target housekeeping failed; tried again at the next sweep');
        })
        .finally(() => this.sweeping.delete(target.name));
      this.sweeping.set(target.name, run);
    }
  }

  /** Deliveries and removals waiting, being retried or under way, per target name. */
  pending(): Map<string, number> {
    return new Map(this.lanes.map((l) => [l.target.name, [...l.slots.values()].filter((s) => s.next !== undefined || s.running !== undefined).length]));
  }

  /**
   * Stops: no new attempt starts, retries are cancelled, deliveries under way get `stopTimeoutMs` to finish and are
   * then aborted (what they did not record is delivered again at the next start); journals are flushed. The targets
   * are not closed: they outlive a leadership term (the daemon closes them, see `closeTargets`).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const running: Promise<void>[] = [];
    for (const lane of this.lanes) {
      lane.waiting.clear();
      for (const slot of lane.slots.values()) {
        if (slot.timer !== undefined) this.timers.clearTimeout(slot.timer);
        slot.timer = undefined;
        if (slot.running) running.push(slot.running);
      }
    }
    running.push(...this.sweeping.values());
    const timeoutMs = this.options.stopTimeoutMs ?? 5000;
    await this.within(Promise.allSettled(running), timeoutMs);
    this.root.abort(new WhisperError('ABORTED', 'stopping'));
    // A target that ignores the abort is left behind after a last, short wait: a stop always ends.
    await this.within(Promise.allSettled(running), Math.min(1000, timeoutMs));
    const journals = [...new Set(this.lanes.map((l) => l.journal))];
    await Promise.allSettled(journals.map((j) => j.flush()));
  }

  /** Resolves when `p` settles or after `ms`, whichever is first. */
  private async within(p: Promise<unknown>, ms: number): Promise<void> {
    const timers = this.options.stopTimers ?? heldTimers;
    let handle: unknown;
    const bound = new Promise<void>((resolve) => {
      handle = timers.setTimeout(resolve, ms);
    });
    await Promise.race([p, bound]);
    timers.clearTimeout(handle);
  }

  private submit(lane: Lane, work: Work): void {
    if (this.stopping) return;
    let slot = lane.slots.get(work.id);
    if (!slot) {
      slot = { lane, id: work.id, attempt: 0 };
      lane.slots.set(work.id, slot);
    }
    // The newest work wins over what was queued (or waiting for its retry): the older one is never done after it.
    slot.next = work;
    slot.attempt = 0;
    if (slot.timer !== undefined) {
      this.timers.clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    this.kick(slot);
  }

  private kick(slot: Slot): void {
    const { lane } = slot;
    if (this.stopping || slot.running || slot.timer !== undefined || slot.next === undefined) return;
    if (lane.active >= this.concurrency) {
      lane.waiting.add(slot);
      return;
    }
    lane.waiting.delete(slot);
    const work = slot.next;
    slot.next = undefined;
    lane.active += 1;
    slot.running = this.attempt(slot, work).finally(() => {
      lane.active -= 1;
      slot.running = undefined;
      const waiter = lane.waiting.values().next();
      if (!waiter.done) this.kick(waiter.value);
      this.kick(slot);
      if (!slot.running && slot.next === undefined && slot.timer === undefined) lane.slots.delete(slot.id);
    });
  }

  /** One attempt of `work`; a failure is journaled and scheduled again unless newer work replaced it. */
  private async attempt(slot: Slot, work: Work): Promise<void> {
    const { target, journal } = slot.lane;
    const log = this.options.log.child({ target: target.name, cert: work.id });
    const signal = this.root.signal;
    try {
      const result = work.kind === 'deliver' ? await this.deliver(slot.lane, work, log, signal) : await this.remove(slot.lane, work, log, signal);
      this.options.metrics?.delivery(target.name, work.kind, result, this.now());
      if (result === 'success') this.options.record?.({ kind: 'delivered', cert: work.id, target: target.name, reason: work.kind, ...(work.kind === 'deliver' ? { serial: work.serial } : {}) });
      slot.attempt = 0;
    } catch (err) {
      const now = this.now();
      const code = isWhisperError(err) ? err.code : 'INTERNAL';
      const record = journal.get(target.name, work.id);
      const attempts = (record?.attempts ?? 0) + 1;
      // Aborted by the stop: not a failure of the target (the next start delivers it again).
      if (!(this.stopping && signal.aborted)) {
        this.options.metrics?.delivery(target.name, work.kind, 'failure', now);
        this.options.record?.({ kind: 'delivery-failed', cert: work.id, target: target.name, reason: work.kind, code, message: errorMessage(err) });
        journal.set(target.name, work.id, { ...record, attempts, lastError: { at: new Date(now), code, message: errorMessage(err) } });
      }
      const what = work.kind === 'deliver' ? 'delivery' : 'removal';
      if (this.stopping || slot.next !== undefined) {
        log.warn({ code, err: errorMessage(err) }, `${what} failed${this.stopping ? '; tried again at the next start' : '; newer work replaces it'}`);
        return;
      }
      slot.attempt += 1;
      const delay = retryDelay(err, slot.attempt, now, { ...this.options.retry, ...(this.options.random ? { random: this.options.random } : {}) });
      log.warn({ code, attempt: slot.attempt, retryInMs: delay, nextRetry: new Date(now + delay).toISOString(), err: errorMessage(err) }, `${what} failed; retrying`);
      slot.next = work;
      slot.timer = this.timers.setTimeout(() => {
        slot.timer = undefined;
        this.kick(slot);
      }, delay);
    }
  }

  private async deliver(lane: Lane, work: Extract<Work, { kind: 'deliver' }>, log: Logger, signal: AbortSignal): Promise<DeliveryResult> {
    const { target, journal } = lane;
    const upToDate = (r: TargetRecord | undefined, serial: string) => r?.removing === undefined && r?.delivered === serial;
    let record = journal.get(target.name, work.id);
    if (upToDate(record, work.serial)) {
      log.debug({ serial: work.serial }, 'already delivered; skipped');
      return 'skipped';
    }
    const item = work.item ?? (await this.load(work.id, work.path));
    if (item === undefined) {
      log.debug({ file: work.path }, 'not delivered: the file is gone');
      return 'skipped';
    }
    record = journal.get(target.name, work.id);
    if (upToDate(record, item.serial)) return 'skipped';
    const started = this.now();
    const outcome = await target.deliver(
      { ...item, ...(record?.delivered !== undefined ? { previousSerial: record.delivered } : {}) },
      { memo: record?.memo ?? {}, log, now: this.now },
      signal,
    );
    const memo = outcome?.memo ?? record?.memo;
    journal.set(target.name, work.id, { delivered: item.serial, at: new Date(this.now()), attempts: 0, ...(memo ? { memo } : {}) });
    log.info({ serial: item.serial, previousSerial: record?.delivered, detail: outcome?.detail, durationMs: this.now() - started }, 'certificate delivered');
    return 'success';
  }

  private async remove(lane: Lane, work: Extract<Work, { kind: 'remove' }>, log: Logger, signal: AbortSignal): Promise<DeliveryResult> {
    const { target, journal } = lane;
    const record = journal.get(target.name, work.id);
    if (!target.remove || record?.removing === undefined) return 'skipped';
    const outcome = await target.remove({ id: work.id, path: work.path, ...(record.delivered !== undefined ? { serial: record.delivered } : {}) }, { memo: record.memo ?? {}, log, now: this.now }, signal);
    journal.set(target.name, work.id, undefined);
    log.info({ serial: record.delivered, detail: outcome?.detail }, 'certificate removed from the target');
    return 'success';
  }
}
