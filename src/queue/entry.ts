import type { WantedCert } from '../plan/types.js';
import type { JobError, QueueEntry } from './types.js';

/** The queue's record of one certificate's job (internal to the queue). */
export interface Entry {
  readonly id: string;
  /** The certificate of the run in progress (`running`) or of the next run. */
  cert: WantedCert;
  reason: string;
  state: 'pending' | 'running' | 'deferred';
  /** The attempt running now, or the next one (1-based). */
  attempt: number;
  nextAt?: number;
  timer?: unknown;
  /** From `defer()`, `notBefore` and `Retry-After`: no run starts earlier, not even one for new names. */
  holdUntil: number;
  lastError?: JobError;
  controller?: AbortController;
  /** Enqueued again while running: run once more with this, after the current run. */
  again?: { cert: WantedCert; reason: string };
  /** `remove()`d while running: the run finishes, nothing follows. */
  removed: boolean;
}

/** Whether two certificates cover the same names (names are sorted by the planner). */
export function sameNames(a: WantedCert, b: WantedCert): boolean {
  return a.names.length === b.names.length && a.names.every((name, i) => name === b.names[i]);
}

const RANK = { running: 0, pending: 1, deferred: 2 } as const;

/** The `status` view of `entries`: running, then pending in `pendingOrder`, then deferred by due time. */
export function snapshotOf(entries: Iterable<Entry>, pendingOrder: readonly string[]): QueueEntry[] {
  return [...entries]
    .sort(
      (a, b) =>
        RANK[a.state] - RANK[b.state] ||
        (a.state === 'pending' ? pendingOrder.indexOf(a.id) - pendingOrder.indexOf(b.id) : 0) ||
        (a.nextAt ?? 0) - (b.nextAt ?? 0),
    )
    .map((e) => ({
      id: e.id,
      state: e.state,
      attempt: e.attempt,
      reason: e.reason,
      names: e.cert.names,
      ...(e.nextAt === undefined ? {} : { nextAt: new Date(e.nextAt) }),
      ...(e.lastError === undefined ? {} : { lastError: e.lastError }),
    }));
}
