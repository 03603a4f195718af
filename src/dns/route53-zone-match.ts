import type { HostedZone } from '@aws-sdk/client-route-53';
import { WhisperError } from '../errors.js';
import { fromRoute53Name, route53Error, type Route53Api } from './route53-api.js';

/** A Route53 hosted zone. */
export interface HostedZoneRef {
  /** As Route53 gives it: `/hostedzone/Z123`. */
  readonly id: string;
  /** Lowercase, no trailing dot. */
  readonly name: string;
  /** How many record sets the zone held when it was listed (`ResourceRecordSetCount`), when Route53 said. */
  readonly recordCount?: number;
}

/** The names a record may live in, longest first: the name itself, then each parent. */
export function zoneCandidates(fqdn: string): string[] {
  const labels = fqdn.toLowerCase().replace(/\.$/, '').split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

/**
 * The hosted zone of `fqdn` among `zones`: the longest zone name that is `fqdn` or one of its parents. Pure.
 * Of two zones of the same name the public one wins: a private zone is invisible to the CA. A private zone is still
 * taken when it is the only one of its name, as whisper-ts always did (its records reach the CA only through a
 * resolver that sees the private zone, which is the operator's choice).
 */
export function matchZone(zones: readonly HostedZone[], fqdn: string): HostedZoneRef | undefined {
  const name = fqdn.toLowerCase().replace(/\.$/, '');
  let best: { id: string; name: string; private: boolean; count: number | undefined } | undefined;
  for (const z of zones) {
    if (z.Id === undefined || z.Name === undefined) continue;
    const zoneName = fromRoute53Name(z.Name);
    if (zoneName === '' || (zoneName !== name && !name.endsWith(`.${zoneName}`))) continue;
    const isPrivate = z.Config?.PrivateZone === true;
    if (best && zoneName.length < best.name.length) continue;
    if (best && zoneName.length === best.name.length && (isPrivate || !best.private)) continue;
    best = { id: z.Id, name: zoneName, private: isPrivate, count: z.ResourceRecordSetCount };
  }
  return best && { id: best.id, name: best.name, ...(best.count !== undefined ? { recordCount: best.count } : {}) };
}

/** `DNS_ZONE_NOT_FOUND` naming the record. */
export function zoneNotFound(fqdn: string): WhisperError {
  return new WhisperError('DNS_ZONE_NOT_FOUND', `no Route53 hosted zone holds ${fqdn}`);
}

/** The hosted zone named exactly `name` (no trailing dot), asked with one ListHostedZonesByName. */
export async function zoneNamed(api: Route53Api, name: string, signal?: AbortSignal): Promise<HostedZoneRef | undefined> {
  let res;
  try {
    res = await api.listHostedZonesByName({ DNSName: `${name}.`, MaxItems: 10 }, signal);
  } catch (err) {
    throw route53Error(err, `Route53 ListHostedZonesByName ${name}`);
  }
  // The list starts at DNSName and goes on with the zones that sort after it: only the exact name counts.
  const zone = matchZone(res.HostedZones ?? [], name);
  return zone?.name === name ? zone : undefined;
}

/** Looks up the hosted zone of exactly one name. */
export type ZoneNamed = (name: string, signal?: AbortSignal) => Promise<HostedZoneRef | undefined>;

/**
 * The zone of `fqdn` by asking for each of {@link zoneCandidates} in turn, longest first: the way when
 * ListHostedZones is denied (an IAM policy written for lego grants ListHostedZonesByName alone).
 */
export async function longestByName(fqdn: string, named: ZoneNamed, signal?: AbortSignal): Promise<HostedZoneRef> {
  for (const candidate of zoneCandidates(fqdn)) {
    if (signal?.aborted) throw new WhisperError('ABORTED', `hosted zone lookup of ${fqdn}: aborted`);
    const zone = await named(candidate, signal);
    if (zone) return zone;
  }
  throw zoneNotFound(fqdn);
}
