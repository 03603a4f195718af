import type { HistoryEvent, HistoryKind, HistoryProblem, HistoryQuery, HistoryRow } from './types.js';

/** Rows a query returns unless told otherwise, and at most. */
export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 1000;

type SqlValue = string | number | null;

/** An `events` row as SQLite holds it (the columns of migration 1; later columns are ignored here). */
export interface EventColumns {
  readonly id?: unknown;
  readonly at: SqlValue;
  readonly instance: SqlValue;
  readonly kind: SqlValue;
  readonly cert: SqlValue;
  readonly names: SqlValue;
  readonly reason: SqlValue;
  readonly code: SqlValue;
  readonly message: SqlValue;
  readonly problem: SqlValue;
  readonly target: SqlValue;
  readonly serial: SqlValue;
  readonly duration_ms: SqlValue;
  readonly until: SqlValue;
  readonly bucket: SqlValue;
  readonly by: SqlValue;
}

/** The INSERT of one event; its named parameters are the keys of {@link EventColumns} (without `id`). */
export const INSERT_EVENT = `INSERT INTO events (at, instance, kind, cert, names, reason, code, message, problem, target, serial, duration_ms, until, bucket, "by")
  VALUES (:at, :instance, :kind, :cert, :names, :reason, :code, :message, :problem, :target, :serial, :duration_ms, :until, :bucket, :by)`;

const text = (v: string | undefined): string | null => (v === undefined ? null : v);
const num = (v: number | undefined): number | null => (v === undefined ? null : v);

/** The columns of an event recorded by `instance`. Throws on an invalid `at` (the caller logs the failure). */
export function encodeEvent(event: HistoryEvent, instance: string): EventColumns {
  const at = event.at.getTime();
  if (!Number.isFinite(at)) throw new TypeError('the event has no valid time (at)');
  const until = event.until?.getTime();
  return {
    at,
    instance,
    kind: event.kind,
    cert: text(event.cert),
    names: event.names === undefined ? null : JSON.stringify(event.names),
    reason: text(event.reason),
    code: text(event.code),
    message: text(event.message),
    problem: event.problem === undefined ? null : JSON.stringify(event.problem),
    target: text(event.target),
    serial: text(event.serial),
    duration_ms: num(event.durationMs),
    until: until === undefined || !Number.isFinite(until) ? null : until,
    bucket: text(event.bucket),
    by: text(event.by),
  };
}

function json(v: SqlValue): unknown {
  if (typeof v !== 'string') return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return undefined;
  }
}

/** A stored row as a {@link HistoryRow}: Dates revived, JSON parsed, absent (NULL or unreadable) fields left out. */
export function decodeRow(row: EventColumns, id: number): HistoryRow {
  const str = (v: SqlValue): string | undefined => (typeof v === 'string' ? v : undefined);
  const names = json(row.names);
  const problem = json(row.problem);
  const out: Record<string, unknown> = {
    id,
    at: new Date(Number(row.at)),
    instance: str(row.instance) ?? '',
    kind: str(row.kind) as HistoryKind,
    cert: str(row.cert),
    names: Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : undefined,
    reason: str(row.reason),
    code: str(row.code),
    message: str(row.message),
    problem: typeof problem === 'object' && problem !== null && !Array.isArray(problem) ? (problem as HistoryProblem) : undefined,
    target: str(row.target),
    serial: str(row.serial),
    durationMs: typeof row.duration_ms === 'number' ? row.duration_ms : undefined,
    until: typeof row.until === 'number' ? new Date(row.until) : undefined,
    bucket: str(row.bucket),
    by: str(row.by),
  };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out as unknown as HistoryRow;
}

/** The limit a query runs with: {@link DEFAULT_QUERY_LIMIT} when absent, 1 to {@link MAX_QUERY_LIMIT}. */
export function queryLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_QUERY_LIMIT;
  return Math.min(MAX_QUERY_LIMIT, Math.max(1, Math.floor(limit)));
}

/**
 * The SELECT of a {@link HistoryQuery}: newest first (by id, the order rows were written in, which `before` pages
 * through), filtered by certificate, time (`at >= since`) and kinds (none given: every kind).
 */
export function selectEvents(q: HistoryQuery): { sql: string; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (q.cert !== undefined) {
    where.push('cert = ?');
    params.push(q.cert);
  }
  if (q.since !== undefined) {
    where.push('at >= ?');
    params.push(q.since.getTime());
  }
  if (q.kinds !== undefined && q.kinds.length > 0) {
    where.push(`kind IN (${q.kinds.map(() => '?').join(', ')})`);
    params.push(...q.kinds);
  }
  if (q.before !== undefined) {
    where.push('id < ?');
    params.push(q.before);
  }
  const filter = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
  params.push(queryLimit(q.limit));
  return { sql: `SELECT * FROM events${filter} ORDER BY id DESC LIMIT ?`, params };
}
