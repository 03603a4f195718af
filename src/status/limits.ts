import type { BucketSnapshot } from '../limits/budget.js';
import { formatTable, formatTime } from './table.js';

/** One line of `limits`: a bucket as the budget sees it now. */
export type LimitsRow = BucketSnapshot;

/** The rows of `limits`: the tightest buckets first (fewest tokens left, then by bucket and key). */
export function limitsRows(snapshot: readonly BucketSnapshot[]): LimitsRow[] {
  return snapshot
    .map((s) => ({ ...s }))
    .sort((a, b) => a.remaining / a.capacity - b.remaining / b.capacity || a.bucket.localeCompare(b.bucket) || a.key.localeCompare(b.key));
}

/** `limits` as an aligned text table. */
export function formatLimitsTable(rows: readonly LimitsRow[]): string {
  if (rows.length === 0) return 'no rate-limit use recorded: every bucket is full\n';
  return formatTable(
    ['BUCKET', 'KEY', 'LEFT', 'NEXT TOKEN', 'FULL AT'],
    rows.map((r) => [r.bucket, r.key, `${r.remaining}/${r.capacity}`, formatTime(r.nextTokenAt), formatTime(r.fullAt)]),
  );
}

/** `limits --json`: the rows with ISO dates, one JSON document. */
export function formatLimitsJson(rows: readonly LimitsRow[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}
