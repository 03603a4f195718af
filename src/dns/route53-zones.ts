import type { HostedZone } from '@aws-sdk/client-route-53';
import { isAccessDenied, route53Error, type Route53Api } from './route53-api.js';
import {
  longestByName,
  matchZone,
  zoneNamed,
  zoneNotFound,
  type HostedZoneRef,
} from './route53-zone-match.js';
import { SharedTasks } from './shared-task.js';

export { matchZone, zoneCandidates, type HostedZoneRef } from './route53-zone-match.js';

/** Every hosted zone of the account, public and private, page by page (ListHostedZones). */
export async function listAllZones(api: Route53Api, signal?: AbortSignal): Promise<HostedZone[]> {
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

/**
 * The hosted zone holding `fqdn`: the longest of its suffixes that is the name of a hosted zone (a name in
 * `a.b.example.com` lives in zone `b.example.com` if there is one, else `example.com`), from one listing of the
 * account's zones; when ListHostedZones is denied, by ListHostedZonesByName of each suffix. Throws
 * `DNS_ZONE_NOT_FOUND` naming the record when none is.
 */
export async function findHostedZone(api: Route53Api, fqdn: string, signal?: AbortSignal): Promise<HostedZoneRef> {
  let zones;
  try {
    zones = await listAllZones(api, signal);
  } catch (err) {
    if (!isAccessDenied(err)) throw err;
    return longestByName(fqdn, (name, s) => zoneNamed(api, name, s), signal);
  }
  const zone = matchZone(zones, fqdn);
  if (!zone) throw zoneNotFound(fqdn);
  return zone;
}

/** Options of {@link createZoneFinder}. */
export interface ZoneFinderOptions {
  /**
   * How long a listing answers names without a new one: a zone deleted and created again has a new id.
   * @default 300000
   */
  ttlMs?: number;
  /**
   * Least time between the start of a listing and a new one caused by a name outside every listed zone: a burst of
   * such names makes one call, and a zone created since is found this long after the last listing at the latest.
   * @default 30000
   */
  minRefreshMs?: number;
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

/** What the finder knows of one account (credentials set). */
interface Account {
  zones?: readonly HostedZone[];
  /** When the listing that gave `zones` started. */
  listedAt: number;
  /** ListHostedZones is denied: names are looked up one by one until then (ms), remembered per name. */
  byName?: { until: number; names: Map<string, { zone: HostedZoneRef | undefined; expires: number }> };
}

/** What a listing gives: the zones, or that the IAM policy denies it. */
type Listing = { readonly zones: readonly HostedZone[] } | { readonly denied: true };

/**
 * A {@link ZoneFinder} that lists the account's hosted zones once (ListHostedZones, every page) and answers every
 * name of a burst from that listing by the longest matching suffix. A name outside every listed zone lists again,
 * at most once per `minRefreshMs`; names asking while a listing runs share it. Every call through `api` counts
 * against the account's request rate: a burst of a hundred certificates makes one listing, not two hundred
 * ListHostedZonesByName calls. When ListHostedZones is denied, names are looked up with ListHostedZonesByName,
 * each suffix remembered for `ttlMs` (found) or `minRefreshMs` (not a zone).
 */
export function createZoneFinder(options: ZoneFinderOptions = {}): ZoneFinder {
  const ttlMs = options.ttlMs ?? 300_000;
  const minRefreshMs = options.minRefreshMs ?? 30_000;
  const now = options.now ?? Date.now;
  const accounts = new Map<string, Account>();
  const listings = new SharedTasks<string, Listing>();

  async function list(api: Route53Api, account: Account, signal: AbortSignal): Promise<Listing> {
    const started = now();
    try {
      const zones = await listAllZones(api, signal);
      account.zones = zones;
      account.listedAt = started;
      return { zones };
    } catch (err) {
      if (!isAccessDenied(err)) throw err;
      account.byName = { until: started + ttlMs, names: new Map() };
      return { denied: true };
    }
  }

  function byName(api: Route53Api, account: Account, fqdn: string, signal?: AbortSignal): Promise<HostedZoneRef> {
    const names = account.byName?.names ?? new Map();
    return longestByName(
      fqdn,
      async (name, s) => {
        const hit = names.get(name);
        if (hit && hit.expires > now()) return hit.zone;
        const zone = await zoneNamed(api, name, s);
        names.set(name, { zone, expires: now() + (zone ? ttlMs : minRefreshMs) });
        return zone;
      },
      signal,
    );
  }

  return async (api, cacheKey, fqdn, signal) => {
    let account = accounts.get(cacheKey);
    if (!account) {
      account = { listedAt: -Infinity };
      accounts.set(cacheKey, account);
    }
    if (account.byName && account.byName.until > now()) return byName(api, account, fqdn, signal);
    const listing = account.zones !== undefined && now() - account.listedAt < ttlMs ? account.zones : undefined;
    if (listing) {
      const zone = matchZone(listing, fqdn);
      if (zone) return zone;
      // A miss lists again, unless a listing started lately: then the name is in no zone (yet).
      if (!listings.has(cacheKey) && now() - account.listedAt < minRefreshMs) throw zoneNotFound(fqdn);
    }
    const acct = account;
    const fresh = await listings.run(cacheKey, (s) => list(api, acct, s), `hosted zone lookup of ${fqdn}`, signal);
    if ('denied' in fresh) return byName(api, acct, fqdn, signal);
    const zone = matchZone(fresh.zones, fqdn);
    if (!zone) throw zoneNotFound(fqdn);
    return zone;
  };
}
