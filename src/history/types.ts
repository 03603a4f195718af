/** Name of the history database in the certificate folder (dot-prefixed, mode 0600). */
export const HISTORY_FILE = '.whisper-history.sqlite';

/** Days of history kept by default (`--history-days`). */
export const DEFAULT_HISTORY_DAYS = 400;

/**
 * What happened. `order`: an order was placed (`reason`: missing, renewal due, requested, …); `issued`: its
 * certificate was written; `failed`: a job failed (`code`, `message`, `problem`); `deferred`: the rate-limit budget
 * or a CA `Retry-After` held an order back (`until`, `bucket`); `delivered` / `delivery-failed`: a target took a
 * certificate (or a removal) or failed to; `notified`: the notify key was bumped; `renew-requested`, `revoked`,
 * `imported`, `account`: an operator's action (`by`: `api`, `cli`).
 */
export type HistoryKind =
  | 'order'
  | 'issued'
  | 'failed'
  | 'deferred'
  | 'delivered'
  | 'delivery-failed'
  | 'notified'
  | 'renew-requested'
  | 'revoked'
  | 'imported'
  | 'account';

const KINDS: Readonly<Record<HistoryKind, true>> = {
  order: true,
  issued: true,
  failed: true,
  deferred: true,
  delivered: true,
  'delivery-failed': true,
  notified: true,
  'renew-requested': true,
  revoked: true,
  imported: true,
  account: true,
};

/** Every {@link HistoryKind} (for validating a `--kind` or an API filter). */
export const HISTORY_KINDS: readonly HistoryKind[] = Object.keys(KINDS) as HistoryKind[];

/** Whether a string is a {@link HistoryKind}. */
export function isHistoryKind(value: string): value is HistoryKind {
  return Object.hasOwn(KINDS, value);
}

/** The ACME problem document of a failure (RFC 8555 §6.7), as far as the CA gave one. */
export interface HistoryProblem {
  readonly type?: string;
  readonly detail?: string;
  readonly status?: number;
  readonly subproblems?: readonly { readonly type?: string; readonly detail?: string; readonly identifier?: string }[];
}

/** One thing that happened, as it is recorded. Messages never hold secrets (no keys, no TXT values, no tokens). */
export interface HistoryEvent {
  readonly at: Date;
  readonly kind: HistoryKind;
  /** The certificate id (file base name), when the event is about one. */
  readonly cert?: string;
  readonly names?: readonly string[];
  /** Why (`renewal due`, `requested`, `keyCompromise`, `rollover`, …). */
  readonly reason?: string;
  /** A WhisperError code. */
  readonly code?: string;
  readonly message?: string;
  readonly problem?: HistoryProblem;
  /** The delivery target's name (`delivered`, `delivery-failed`). */
  readonly target?: string;
  /** Certificate serial, uppercase hex. */
  readonly serial?: string;
  readonly durationMs?: number;
  /** `deferred`: when the order may run; `renew-requested`: when it will run. */
  readonly until?: Date;
  /** `deferred`: the budget's bucket that is spent. */
  readonly bucket?: string;
  /** Who asked (`api`, `cli`, `dashboard`), for an operator's action. */
  readonly by?: string;
}

/** A recorded event: its row id and the instance that recorded it (`host:pid` unless told otherwise). */
export interface HistoryRow extends HistoryEvent {
  readonly id: number;
  readonly instance: string;
}

/** What {@link HistoryStore.query} selects; rows come newest first. */
export interface HistoryQuery {
  readonly cert?: string;
  /** Only rows at or after this moment. */
  readonly since?: Date;
  readonly kinds?: readonly HistoryKind[];
  /** Paging: only rows with an id below this one (the last id of the previous page). */
  readonly before?: number;
  /** @default 100 (at most 1000) */
  readonly limit?: number;
}

/** The history of one folder. Writes never throw: a failure is logged and the event is lost, never the daemon. */
export interface HistoryStore {
  /** Records one event; returns the row as stored, or `undefined` when it could not be written. */
  record(event: HistoryEvent): HistoryRow | undefined;
  query(q?: HistoryQuery): HistoryRow[];
  /** Deletes rows older than the retention; returns how many. */
  prune(now: number): number;
  close(): void;
}

/** Records an event (the daemon's parts get this, not the store). */
export type RecordEvent = (event: Omit<HistoryEvent, 'at'> & { readonly at?: Date }) => void;
