import { problemOf, type AcmeProblem } from '../acme/problems.js';
import type { OpsEvents } from '../ops/types.js';
import type { HistoryProblem, HistoryStore, RecordEvent } from './types.js';

/** Options of {@link createRecorder}. */
export interface RecorderOptions {
  /** Where each stored row is published (`{ type: 'history', row }`) for the dashboard's live view. */
  readonly events?: OpsEvents;
  /** The clock that dates events given without `at`. @default Date.now */
  readonly now?: () => number;
}

/**
 * The {@link RecordEvent} the daemon's parts get: stores the event (dated now unless it says when) and publishes the
 * stored row. Never throws: without a store, or when the store could not write, the event is dropped (the store has
 * logged why) and nothing is published; a failing listener is ignored.
 */
export function createRecorder(store: HistoryStore | undefined, options: RecorderOptions = {}): RecordEvent {
  const now = options.now ?? Date.now;
  return (event) => {
    if (!store) return;
    let row;
    try {
      row = store.record({ ...event, at: event.at ?? new Date(now()) });
    } catch {
      return;
    }
    if (!row || !options.events) return;
    try {
      options.events.publish({ type: 'history', row });
    } catch {
      // The dashboard's stream is best effort; the row is stored.
    }
  };
}

function identifierOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const v = (value as { value?: unknown } | null)?.value;
  return typeof v === 'string' ? v : undefined;
}

/**
 * The ACME problem document behind an error (RFC 8555 §6.7), for a `failed` event: its type, detail, HTTP status and
 * subproblems (with their identifier when the CA named one). Follows the chain of causes (an error wrapping the CA's
 * answer); `undefined` when no problem document is behind it.
 */
export function historyProblem(err: unknown): HistoryProblem | undefined {
  let problem: AcmeProblem | undefined;
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e !== null && e !== undefined && problem === undefined; depth += 1) {
    problem = problemOf(e);
    e = (e as { cause?: unknown }).cause;
  }
  if (!problem) return undefined;
  const subproblems = (problem.subproblems ?? []).map((s) => {
    const identifier = identifierOf((s as { identifier?: unknown }).identifier);
    return {
      ...(s.type ? { type: s.type } : {}),
      ...(s.detail ? { detail: s.detail } : {}),
      ...(identifier !== undefined ? { identifier } : {}),
    };
  });
  return {
    ...(problem.type ? { type: problem.type } : {}),
    ...(problem.detail ? { detail: problem.detail } : {}),
    ...(typeof problem.status === 'number' ? { status: problem.status } : {}),
    ...(subproblems.length > 0 ? { subproblems } : {}),
  };
}
