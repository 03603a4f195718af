import { HISTORY_KINDS, isHistoryKind, type HistoryKind, type HistoryQuery } from '../history/types.js';
import { ApiError } from './respond.js';

/** Rows per page by default, and at most. */
export const HISTORY_PAGE = { default: 100, max: 1000 } as const;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function bad(param: string, why: string): ApiError {
  return new ApiError(400, 'BAD_REQUEST', `${param}: ${why}`);
}

/** `since`: an ISO date, or a duration back from `now` such as `7d`, `12h`, `30m`, `2w`. */
function parseSince(value: string, now: number): Date {
  const m = /^(\d{1,6})([smhdw])$/.exec(value);
  if (m) return new Date(now - Number(m[1]) * UNIT_MS[m[2]!]!);
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw bad('since', `expected an ISO date or a duration such as 7d (got ${JSON.stringify(value)})`);
  return new Date(t);
}

function parsePositive(param: string, value: string, max?: number): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1) || (max !== undefined && n > max)) throw bad(param, `expected a whole number from 1${max !== undefined ? ` to ${max}` : ''} (got ${JSON.stringify(value)})`);
  return n;
}

/**
 * Reads `GET /api/history`'s parameters: `cert`, `since`, `kind` (comma-separated), `before` (a row id, for paging)
 * and `limit`. An unknown or bad parameter is a 400 naming it.
 */
export function parseHistoryQuery(params: URLSearchParams, now: number): HistoryQuery & { readonly limit: number } {
  for (const key of params.keys()) {
    if (!['cert', 'since', 'kind', 'before', 'limit'].includes(key)) throw bad(key, 'unknown parameter (cert, since, kind, before, limit)');
  }
  const cert = params.get('cert') ?? '';
  const since = params.get('since');
  const kind = params.get('kind');
  const before = params.get('before');
  const limit = params.get('limit');
  const kinds = kind ? kind.split(',').map((k) => k.trim()).filter((k) => k !== '') : [];
  for (const k of kinds) if (!isHistoryKind(k)) throw bad('kind', `unknown kind ${JSON.stringify(k)} (${HISTORY_KINDS.join(', ')})`);
  return {
    ...(cert !== '' ? { cert } : {}),
    ...(since ? { since: parseSince(since, now) } : {}),
    ...(kinds.length > 0 ? { kinds: kinds as HistoryKind[] } : {}),
    ...(before ? { before: parsePositive('before', before) } : {}),
    limit: limit ? parsePositive('limit', limit, HISTORY_PAGE.max) : HISTORY_PAGE.default,
  };
}
