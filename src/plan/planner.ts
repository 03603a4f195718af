import type { ErrorCode } from '../errors.js';
import { WhisperError, errorMessage } from '../errors.js';
import { createAllowList, type AllowList } from './allow.js';
import { normalizeHostname } from './hostname.js';
import { quote } from './quote.js';
import { parseTags } from './tags.js';
import type { ServiceTags, WantedCert } from './types.js';

export { certsEqual, diffPlans, type PlanDiff } from './diff.js';

/** Something in a service's tags the planner skipped, and why. */
export interface PlanProblem {
  /** The Consul service whose tags asked for it (several, comma-separated, for `TOO_MANY_NAMES`). */
  readonly service: string;
  /** The tag at fault, as `key=value` (value trimmed). */
  readonly tag?: string;
  /** `HOSTNAME_INVALID`, `DOMAIN_NOT_ALLOWED` or `TOO_MANY_NAMES`. */
  readonly code: ErrorCode;
  /** One line for the operator; untrusted parts are quoted and escaped. */
  readonly message: string;
}

/** What the planner wants: certificates sorted by id, and the problems it skipped. */
export interface Plan {
  readonly certs: readonly WantedCert[];
  readonly problems: readonly PlanProblem[];
}

/** Options of {@link planCertificates}. */
export interface PlanOptions {
  /** Allow-list of domains (see `createAllowList`); empty allows everything. @default [] */
  allowDomains?: readonly string[];
  /** Most names in one certificate; a zone's multi-host certificate over this is split. @default 100 */
  maxNames?: number;
}

/** Default of {@link PlanOptions.maxNames}: Let's Encrypt's limit of names per certificate. */
export const DEFAULT_MAX_NAMES = 100;
/**
 * Longest certificate id. An id becomes a file name (`<id>.pem`, and temporary or per-format
 * names beside it) and those must stay under the 255-byte limit of common file systems.
 */
export const MAX_CERT_ID_LENGTH = 200;
/** First labels of multi-host ids; a single-host certificate using them would take that file. */
const RESERVED_FIRST_LABEL = /^multi-hosts(?:-[0-9]+)?$/;

/** Code-unit order: independent of locale, so plans are byte-for-byte reproducible. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Collect {
  readonly allow: AllowList;
  /** single-host id → zones it came from and services. */
  readonly singles: Map<string, { zones: Set<string>; services: Set<string> }>;
  /** zone → name → services. */
  readonly zones: Map<string, Map<string, Set<string>>>;
  readonly problems: Map<string, PlanProblem>;
}

/**
 * Turns Consul services' tags into the certificates wanted (whisper's rules):
 * for each `dns=<zone>` of a service, when it has `vhost=` tags and an `https=` or `ssl=` tag,
 * every `<vhost>.<zone>` joins the zone's multi-host certificate `multi-hosts.<zone>`; when it
 * has `ssl=` and no `vhost=`, `<service>.<zone>` gets a certificate of its own (id = that name);
 * otherwise nothing. The only wildcard is `vhost=*` (→ `*.<zone>`).
 *
 * Each invalid zone, vhost or service name, and each name outside the allow-list, becomes a
 * {@link PlanProblem} and is skipped; the rest of the service still counts. A multi-host
 * certificate over `maxNames` names is split in sorted chunks (`multi-hosts.<zone>`,
 * `multi-hosts-2.<zone>`, ...) with a `TOO_MANY_NAMES` problem. Pure and deterministic: the
 * same services in any order give an equal plan; every returned object is frozen.
 *
 * @throws WhisperError `CONFIG_INVALID` for an invalid allow-list entry or `maxNames`.
 */
export function planCertificates(services: readonly ServiceTags[], options: PlanOptions = {}): Plan {
  const maxNames = options.maxNames ?? DEFAULT_MAX_NAMES;
  if (!Number.isSafeInteger(maxNames) || maxNames < 1) {
    throw new WhisperError('CONFIG_INVALID', `maxNames must be a positive integer, got ${String(maxNames)}`);
  }
  const collect: Collect = {
    allow: createAllowList(options.allowDomains ?? []),
    singles: new Map(),
    zones: new Map(),
    problems: new Map(),
  };
  for (const service of services) planService(service, collect);

  const certs: WantedCert[] = [];
  for (const [id, single] of collect.singles) {
    // The same host can come from two zones (service `www.a` in `example.com`, `www` in
    // `a.example.com`); the most specific zone is kept so the choice does not depend on order.
    const zone = [...single.zones].sort((a, b) => b.length - a.length || compareStrings(a, b))[0] ?? '';
    certs.push(wanted(id, 'single', zone, [id], single.services));
  }
  for (const [zone, names] of collect.zones) certs.push(...multiCerts(zone, names, maxNames, collect));
  certs.sort((a, b) => compareStrings(a.id, b.id));

  const problems = [...collect.problems.values()].sort(
    (a, b) =>
      compareStrings(a.service, b.service) ||
      compareStrings(a.tag ?? '', b.tag ?? '') ||
      compareStrings(a.code, b.code) ||
      compareStrings(a.message, b.message),
  );
  return Object.freeze({ certs: Object.freeze(certs), problems: Object.freeze(problems) });
}

function planService(service: ServiceTags, c: Collect): void {
  const tags = parseTags(service.tags);
  const dns = tags.get('dns');
  const vhosts = tags.get('vhost');
  const hasSsl = tags.has('ssl');
  const multi = vhosts !== undefined && (hasSsl || tags.has('https'));
  const single = vhosts === undefined && hasSsl;
  if (dns === undefined || (!multi && !single)) return;

  const seen = new Set<string>();
  for (const rawZone of dns) {
    const dnsTag = `dns=${rawZone}`;
    let zone: string;
    try {
      zone = normalizeHostname(rawZone);
    } catch (err) {
      problem(c, service.name, dnsTag, 'HOSTNAME_INVALID', `invalid zone: ${errorMessage(err)}`);
      continue;
    }
    if (seen.has(zone)) continue;
    seen.add(zone);
    if (multi) {
      for (const vhost of vhosts ?? []) addVhost(c, service.name, zone, vhost);
    } else {
      addSingle(c, service.name, zone, dnsTag);
    }
  }
}

function addVhost(c: Collect, service: string, zone: string, vhost: string): void {
  const tag = `vhost=${vhost}`;
  if (vhost !== '*' && vhost.includes('*')) {
    problem(c, service, tag, 'HOSTNAME_INVALID', `the only wildcard allowed is vhost=* (for *.${zone})`);
    return;
  }
  const name = checkedName(c, service, tag, `${vhost}.${zone}`, vhost === '*');
  if (name === undefined) return;
  let names = c.zones.get(zone);
  if (names === undefined) c.zones.set(zone, (names = new Map()));
  let wanters = names.get(name);
  if (wanters === undefined) names.set(name, (wanters = new Set()));
  wanters.add(service);
}

function addSingle(c: Collect, service: string, zone: string, dnsTag: string): void {
  const name = checkedName(c, service, dnsTag, `${service}.${zone}`, false);
  if (name === undefined) return;
  const first = name.slice(0, name.indexOf('.'));
  if (RESERVED_FIRST_LABEL.test(first)) {
    problem(c, service, dnsTag, 'HOSTNAME_INVALID', `${quote(name)}: ${quote(first)} is reserved for multi-host certificates`);
    return;
  }
  if (name.length > MAX_CERT_ID_LENGTH) {
    problem(c, service, dnsTag, 'HOSTNAME_INVALID', `${quote(name)} is longer than ${MAX_CERT_ID_LENGTH} characters, too long for a certificate file name`);
    return;
  }
  let entry = c.singles.get(name);
  if (entry === undefined) c.singles.set(name, (entry = { zones: new Set(), services: new Set() }));
  entry.zones.add(zone);
  entry.services.add(service);
}

/** Normalizes and allow-checks one name; records a problem and returns undefined when it fails. */
function checkedName(c: Collect, service: string, tag: string, raw: string, wildcard: boolean): string | undefined {
  let name: string;
  try {
    name = normalizeHostname(raw, { allowWildcard: wildcard });
  } catch (err) {
    problem(c, service, tag, 'HOSTNAME_INVALID', errorMessage(err));
    return undefined;
  }
  if (!c.allow.allows(name)) {
    problem(c, service, tag, 'DOMAIN_NOT_ALLOWED', `${quote(name)} is not in the allow-list`);
    return undefined;
  }
  return name;
}

function multiCerts(zone: string, byName: Map<string, Set<string>>, maxNames: number, c: Collect): WantedCert[] {
  const names = [...byName.keys()].sort(compareStrings);
  const chunks: string[][] = [];
  for (let start = 0; start < names.length; start += maxNames) chunks.push(names.slice(start, start + maxNames));
  const ids = chunks.map((_, i) => (i === 0 ? `multi-hosts.${zone}` : `multi-hosts-${i + 1}.${zone}`));
  const longest = ids[ids.length - 1] ?? '';
  if (longest.length > MAX_CERT_ID_LENGTH) {
    const message = `multi-host certificate id ${quote(longest)} is longer than ${MAX_CERT_ID_LENGTH} characters, too long for a file name`;
    for (const service of servicesOf(names, byName)) problem(c, service, `dns=${zone}`, 'HOSTNAME_INVALID', message);
    return [];
  }
  const certs = chunks.map((chunk, i) => wanted(ids[i] ?? '', 'multi', zone, chunk, servicesOf(chunk, byName)));
  if (certs.length > 1) {
    problem(
      c,
      servicesOf(names, byName).join(', '),
      `dns=${zone}`,
      'TOO_MANY_NAMES',
      `zone ${quote(zone)} has ${names.length} names, over ${maxNames} per certificate: split into ${ids.join(', ')}`,
    );
  }
  return certs;
}

function servicesOf(names: readonly string[], byName: Map<string, Set<string>>): string[] {
  return [...new Set(names.flatMap((name) => [...(byName.get(name) ?? [])]))].sort(compareStrings);
}

function wanted(id: string, kind: WantedCert['kind'], zone: string, names: readonly string[], services: Iterable<string>): WantedCert {
  return Object.freeze({
    id,
    kind,
    zone,
    names: Object.freeze([...names]),
    services: Object.freeze([...services].sort(compareStrings)),
  });
}

function problem(c: Collect, service: string, tag: string | undefined, code: ErrorCode, message: string): void {
  const full = `service ${quote(service)}${tag === undefined ? '' : `, tag ${quote(tag)}`}: ${message}`;
  const key = JSON.stringify([service, tag, code, full]);
  if (c.problems.has(key)) return;
  const entry: PlanProblem = tag === undefined ? { service, code, message: full } : { service, tag, code, message: full };
  c.problems.set(key, Object.freeze(entry));
}
