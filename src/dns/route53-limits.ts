import type { Change } from '@aws-sdk/client-route-53';

/** Route53's limits on one ChangeResourceRecordSets request. */
export interface ChangeLimits {
  /** `ResourceRecord` elements, an UPSERT's counted twice. @default 1000 */
  readonly records: number;
  /** Characters of all `Value` elements, an UPSERT's counted twice. @default 32000 */
  readonly characters: number;
}

/** The limits Route53 documents for ChangeResourceRecordSets. */
export const ROUTE53_CHANGE_LIMITS: ChangeLimits = { records: 1000, characters: 32_000 };

/** What one change counts against {@link ChangeLimits}. */
export function changeCost(change: Change): { records: number; characters: number } {
  const weight = change.Action === 'UPSERT' ? 2 : 1;
  const values = change.ResourceRecordSet?.ResourceRecords ?? [];
  const characters = values.reduce((sum, r) => sum + (r.Value?.length ?? 0), 0);
  return { records: weight * values.length, characters: weight * characters };
}

/**
 * The changes of one zone cut into as few requests as the limits allow, in order (one RRset is never cut: a set
 * over the limits on its own goes alone, and Route53's refusal names it). Usually one request.
 */
export function splitChanges(changes: readonly Change[], limits: ChangeLimits = ROUTE53_CHANGE_LIMITS): Change[][] {
  const batches: Change[][] = [];
  let current: Change[] = [];
  let records = 0;
  let characters = 0;
  for (const change of changes) {
    const cost = changeCost(change);
    if (current.length > 0 && (records + cost.records > limits.records || characters + cost.characters > limits.characters)) {
      batches.push(current);
      current = [];
      records = 0;
      characters = 0;
    }
    current.push(change);
    records += cost.records;
    characters += cost.characters;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
