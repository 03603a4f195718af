import type { Change } from '@aws-sdk/client-route-53';
import { fromRoute53Name, route53Error, type Route53Api } from './route53-api.js';
import { quoteTxt, unquoteTxt } from './txt.js';

/** The TXT record set of one name, as Route53 holds it. */
export interface TxtSet {
  readonly ttl: number;
  /** The records in Route53's presentation form (quoted), kept verbatim: a DELETE must match them exactly. */
  readonly records: readonly string[];
}

/** Reads the TXT set of `name` (no trailing dot) in a zone; `undefined` when there is none. */
export async function readTxtSet(
  api: Route53Api,
  zoneId: string,
  name: string,
  signal?: AbortSignal,
): Promise<TxtSet | undefined> {
  let res;
  try {
    res = await api.listResourceRecordSets(
      { HostedZoneId: zoneId, StartRecordName: `${name}.`, StartRecordType: 'TXT', MaxItems: 1 },
      signal,
    );
  } catch (err) {
    throw route53Error(err, `Route53 ListResourceRecordSets ${name} TXT`);
  }
  // The list starts at the name and runs on: the first set is ours only if name and type match exactly.
  const set = res.ResourceRecordSets?.[0];
  if (!set?.Name || fromRoute53Name(set.Name) !== name || set.Type !== 'TXT') return undefined;
  const records = (set.ResourceRecords ?? []).flatMap((r) => (r.Value === undefined ? [] : [r.Value]));
  return { ttl: set.TTL ?? 300, records };
}

function txtChange(action: 'UPSERT' | 'DELETE', name: string, ttl: number, records: readonly string[]): Change {
  return {
    Action: action,
    ResourceRecordSet: {
      Name: `${name}.`,
      Type: 'TXT',
      TTL: ttl,
      ResourceRecords: records.map((Value) => ({ Value })),
    },
  };
}

/**
 * The change that publishes `values` at `name` without dropping what is there (an apex and its
 * wildcard, or another order, share `_acme-challenge`): an UPSERT of the union, new values quoted.
 */
export function presentChange(
  name: string,
  current: TxtSet | undefined,
  values: readonly string[],
  ttl: number,
): Change {
  const records = [...(current?.records ?? [])];
  const have = new Set(records.map(unquoteTxt));
  for (const v of values) {
    if (have.has(v)) continue;
    have.add(v);
    records.push(quoteTxt(v));
  }
  return txtChange('UPSERT', name, ttl, records);
}

/**
 * The change that removes `values` from `name` and keeps the others: a DELETE of the exact current set
 * when nothing else remains, else an UPSERT of the rest; `undefined` when none of them is there (so a
 * repeated clean-up makes no call).
 */
export function cleanUpChange(
  name: string,
  current: TxtSet | undefined,
  values: readonly string[],
): Change | undefined {
  if (!current) return undefined;
  const ours = new Set(values);
  const remaining = current.records.filter((r) => !ours.has(unquoteTxt(r)));
  if (remaining.length === current.records.length) return undefined;
  if (remaining.length === 0) return txtChange('DELETE', name, current.ttl, current.records);
  return txtChange('UPSERT', name, current.ttl, remaining);
}
