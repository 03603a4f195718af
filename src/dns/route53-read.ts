import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { fromRoute53Name, route53Error, type Route53Api } from './route53-api.js';
import { readTxtSet, type TxtSet } from './route53-records.js';
import type { HostedZoneRef } from './route53-zone-match.js';

/** Record sets per ListResourceRecordSets page: Route53's most. */
export const LIST_PAGE_SIZE = 300;

/**
 * How to read the TXT sets of `names` names in `zone`: `zone` (one paginated listing of the whole zone) when it
 * takes fewer calls than one read per name, else `each`. Pure. The zone's size is its `recordCount` from the
 * zone listing, plus the names (a burst adds their sets); unknown size → `each`, which never costs more than a
 * call per name.
 */
export function readPlan(names: number, zone: Pick<HostedZoneRef, 'recordCount'>): 'each' | 'zone' {
  if (names <= 1 || zone.recordCount === undefined) return 'each';
  return Math.ceil((zone.recordCount + names) / LIST_PAGE_SIZE) < names ? 'zone' : 'each';
}

/** The TXT set of `set`, in {@link TxtSet} form. */
function txtSetOf(set: ResourceRecordSet): TxtSet {
  return { ttl: set.TTL ?? 300, records: (set.ResourceRecords ?? []).flatMap((r) => (r.Value === undefined ? [] : [r.Value])) };
}

/** Every TXT set among `names` (lowercase, no trailing dot), from one listing of the zone page by page. */
export async function listTxtSets(
  api: Route53Api,
  zone: HostedZoneRef,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, TxtSet>> {
  const wanted = new Set(names);
  const found = new Map<string, TxtSet>();
  let start: { name?: string; type?: string; identifier?: string } = {};
  for (;;) {
    let res;
    try {
      res = await api.listResourceRecordSets(
        {
          HostedZoneId: zone.id,
          MaxItems: LIST_PAGE_SIZE,
          ...(start.name !== undefined ? { StartRecordName: start.name } : {}),
          ...(start.type !== undefined ? { StartRecordType: start.type as never } : {}),
          ...(start.identifier !== undefined ? { StartRecordIdentifier: start.identifier } : {}),
        },
        signal,
      );
    } catch (err) {
      throw route53Error(err, `Route53 ListResourceRecordSets of zone ${zone.name}`);
    }
    for (const set of res.ResourceRecordSets ?? []) {
      if (set.Type !== 'TXT' || set.Name === undefined || set.SetIdentifier !== undefined) continue;
      const name = fromRoute53Name(set.Name);
      if (wanted.has(name)) found.set(name, txtSetOf(set));
    }
    if (!res.IsTruncated || res.NextRecordName === undefined) return found;
    start = { name: res.NextRecordName, type: res.NextRecordType, identifier: res.NextRecordIdentifier };
  }
}

/**
 * The TXT sets of `names` in `zone` (a name without one is absent from the map), in as few calls as
 * {@link readPlan} finds: one listing of the zone, or one read per name, sent together (the token bucket spaces
 * them).
 */
export async function readTxtSets(
  api: Route53Api,
  zone: HostedZoneRef,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, TxtSet>> {
  if (readPlan(names.length, zone) === 'zone') return listTxtSets(api, zone, names, signal);
  const sets = await Promise.all(names.map((name) => readTxtSet(api, zone.id, name, signal)));
  const found = new Map<string, TxtSet>();
  names.forEach((name, i) => {
    const set = sets[i];
    if (set) found.set(name, set);
  });
  return found;
}
