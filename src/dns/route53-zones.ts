import { WhisperError } from '../errors.js';
import type { HostedZone } from '@aws-sdk/client-route-53';
import { fromRoute53Name, isAccessDenied, route53Error, type Route53Api } from './route53-api.js';

/** A Route53 hosted zone. */
export interface HostedZoneRef {
  /** As Route53 gives it: `/hostedzone/Z123`. */
  readonly id: string;
  /** Lowercase, no trailing dot. */
  readonly name: string;
}

/** The names a record may live in, longest first: the name itself, then each parent. */
export function zoneCandidates(fqdn: string): string[] {
  const labels = fqdn.toLowerCase().replace(/\.$/, '').split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

/** Remembers, for one account, that ListHostedZonesByName is denied, and the full listing used instead. */
interface ListingState {
  all?: Promise<HostedZone[]>;
}

async function listAllZones(api: Route53Api, signal?: AbortSignal): Promise<HostedZone[]> {
  const all: HostedZone[] = [];
  let marker: string | undefined;
  do {
    let res;
    try {
      res = await api.listHostedZones({ Marker: marker, MaxItems: 100 }, signal);
    } catch (err) {
      throw route53Error(err, 'Route53 ListHostedZones');
    }
    all.push(...(res.HostedZones ?? []));
    marker = res.IsTruncated ? res.NextMarker : undefined;
  } while (marker);
  return all;
}

function pick(zones: readonly HostedZone[], name: string): HostedZoneRef | undefined {
  const exact = zones.filter((z) => z.Id !== undefined && z.Name !== undefined && fromRoute53Name(z.Name) === name);
  // A private zone of the same name is invisible to the CA: the public one is where the challenge goes.
  const zone = exact.find((z) => z.Config?.PrivateZone !== true) ?? exact[0];
  return zone?.Id === undefined ? undefined : { id: zone.Id, name };
}

async function zoneNamed(
  api: Route53Api,
  name: string,
  state: ListingState,
  signal?: AbortSignal,
): Promise<HostedZoneRef | undefined> {
  if (!state.all) {
    try {
      const res = await api.listHostedZonesByName({ DNSName: `${name}.`, MaxItems: 10 }, signal);
      // The list starts at DNSName and goes on with the zones that sort after it: only exact names count.
      return pick(res.HostedZones ?? [], name);
    } catch (err) {
      if (!isAccessDenied(err)) throw route53Error(err, `Route53 ListHostedZonesByName ${name}`);
      // whisper's documented IAM policy grants ListHostedZones only: list them all instead.
      state.all = listAllZones(api, signal);
      state.all.catch(() => {
        state.all = undefined;
      });
    }
  }
  return pick(await state.all, name);
}

/** Looks up the hosted zone of exactly one name. */
type ZoneNamed = (name: string, signal?: AbortSignal) => Promise<HostedZoneRef | undefined>;

async function longestMatch(fqdn: string, named: ZoneNamed, signal?: AbortSignal): Promise<HostedZoneRef> {
  for (const candidate of zoneCandidates(fqdn)) {
    if (signal?.aborted) throw new WhisperError('ABORTED', `hosted zone lookup of ${fqdn}: aborted`);
    const zone = await named(candidate, signal);
    if (zone) return zone;
  }
  throw new WhisperError('DNS_ZONE_NOT_FOUND', `no Route53 hosted zone holds ${fqdn}`);
}

/**
 * The hosted zone holding `fqdn`: the longest of its suffixes that is the name of a hosted zone
 * (a name in `a.b.example.com` lives in zone `b.example.com` if there is one, else `example.com`).
 * Throws `DNS_ZONE_NOT_FOUND` naming the record when none is.
 */
export function findHostedZone(api: Route53Api, fqdn: string, signal?: AbortSignal): Promise<HostedZoneRef> {
  const state: ListingState = {};
  return longestMatch(fqdn, (name, s) => zoneNamed(api, name, state, s), signal);
}

/** Options of {@link createZoneFinder}. */
export interface ZoneFinderOptions {
  /** How long a found zone is remembered. @default 300000 */
  ttlMs?: number;
  /** How long "no zone of this name" is remembered. @default 60000 */
  missTtlMs?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** {@link findHostedZone} with a memory: `cacheKey` separates credentials profiles (accounts). */
export type ZoneFinder = (
  api: Route53Api,
  cacheKey: string,
  fqdn: string,
  signal?: AbortSignal,
) => Promise<HostedZoneRef>;

/**
 * A {@link ZoneFinder} that remembers, per candidate name, whether it is a hosted zone: the fifty names
 * of a multi-host certificate share their parents, and Route53 allows about five requests a second.
 * Misses are forgotten sooner, so a zone created after a failure is soon found.
 */
export function createZoneFinder(options: ZoneFinderOptions = {}): ZoneFinder {
  const ttlMs = options.ttlMs ?? 300_000;
  const missTtlMs = options.missTtlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { zone: HostedZoneRef | undefined; expires: number }>();
  const listings = new Map<string, { state: ListingState; expires: number }>();
  const listingFor = (cacheKey: string): ListingState => {
    let entry = listings.get(cacheKey);
    if (!entry || entry.expires <= now()) {
      entry = { state: {}, expires: now() + missTtlMs };
      listings.set(cacheKey, entry);
    }
    return entry.state;
  };
  return (api, cacheKey, fqdn, signal) =>
    longestMatch(
      fqdn,
      async (name, s) => {
        const key = `${cacheKey}\u0000${name}`;
        const hit = cache.get(key);
        if (hit && hit.expires > now()) return hit.zone;
        const zone = await zoneNamed(api, name, listingFor(cacheKey), s);
        cache.set(key, { zone, expires: now() + (zone ? ttlMs : missTtlMs) });
        return zone;
      },
      signal,
    );
}
