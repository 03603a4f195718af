import { WhisperError } from '../errors.js';
import { isMultiHostId } from '../store/ids.js';
import { createAllowList } from './allow.js';
import { quote } from './quote.js';
import { addProblem, planService, problemKey, MAX_CERT_ID_LENGTH, type PlanProblem, type ServicePlan } from './service.js';
import type { ServiceTags, WantedCert } from './types.js';

export { certsEqual, diffPlans, type PlanDiff } from './diff.js';
export { MAX_CERT_ID_LENGTH, type PlanProblem, type ServicePlan } from './service.js';

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
  /** Whether `vhost=*` may ask for `*.<zone>` (`--allow-wildcard`); otherwise its service is skipped. @default false */
  allowWildcard?: boolean;
  /** `--domain`: only these zones (normalized) are planned, compared exactly. @default [] (every zone) */
  domains?: readonly string[];
}

/** Default of {@link PlanOptions.maxNames}: Let's Encrypt's limit of names per certificate. */
export const DEFAULT_MAX_NAMES = 100;

/** Code-unit order: independent of locale, so plans are byte-for-byte reproducible. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Turns Consul services' tags into the certificates wanted (whisper's rules):
 * for each `dns=<zone>` of a service, when it has `vhost=` tags and an `https=` or `ssl=` tag,
 * every `<vhost>.<zone>` joins the zone's multi-host certificate `multi-hosts.<zone>`; when it
 * has `ssl=` and no `vhost=`, `<service>.<zone>` gets a certificate of its own (id = that name);
 * otherwise nothing. The only wildcard is `vhost=*` (→ `*.<zone>`), with `allowWildcard` only: without it, a
 * service with that tag is skipped whole, with a `DOMAIN_NOT_ALLOWED` problem.
 *
 * File names follow whisper: a certificate whose hosts are exactly one name is `<name>` (`<name>.pem`), so a zone
 * with a single vhost gets `<vhost>.<zone>`, not `multi-hosts.<zone>`; that id is then the same certificate as the
 * service certificate of the same name, if any (see {@link assemblePlan} for the exceptions).
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
  const maxNames = checkedMaxNames(options.maxNames);
  const allow = createAllowList(options.allowDomains ?? []);
  const serviceOptions = { allowWildcard: options.allowWildcard === true, domains: new Set(options.domains ?? []) };
  const parts: ServicePlan[] = [];
  for (const service of services) {
    const part = planService(service, allow, serviceOptions);
    if (part !== undefined) parts.push(part);
  }
  return assemblePlan(parts, maxNames);
}

/** @throws WhisperError `CONFIG_INVALID` unless a positive integer (undefined: the default). */
export function checkedMaxNames(maxNames = DEFAULT_MAX_NAMES): number {
  if (!Number.isSafeInteger(maxNames) || maxNames < 1) {
    throw new WhisperError('CONFIG_INVALID', `maxNames must be a positive integer, got ${String(maxNames)}`);
  }
  return maxNames;
}

/**
 * Joins services' parts (from `planService`) into the plan: single-host certificates by id, each zone's names into
 * its multi-host certificate(s), every object frozen and sorted so any order of `parts` gives an equal plan.
 *
 * A zone whose vhosts are exactly one name gets that name's own certificate (id = the name, kind `single`), as
 * whisper named it; a service certificate of the same name is the same id and the same names, so the two are one
 * certificate whose services are both's. Only two or more names make `multi-hosts.<zone>`. A lone vhost keeps
 * `multi-hosts.<zone>` when its name cannot be a file name of its own (see {@link loneVhostId}).
 */
export function assemblePlan(parts: Iterable<ServicePlan>, maxNames: number): Plan {
  /** single-host id → zones it came from and services. */
  const singles = new Map<string, { zones: Set<string>; services: Set<string> }>();
  /** zone → name → services. */
  const zones = new Map<string, Map<string, Set<string>>>();
  const problems = new Map<string, PlanProblem>();
  const addSingle = (id: string, zone: string, services: Iterable<string>): void => {
    let entry = singles.get(id);
    if (entry === undefined) singles.set(id, (entry = { zones: new Set(), services: new Set() }));
    entry.zones.add(zone);
    for (const service of services) entry.services.add(service);
  };
  for (const part of parts) {
    for (const { id, zone } of part.singles) addSingle(id, zone, [part.service]);
    for (const { zone, name } of part.vhosts) {
      let names = zones.get(zone);
      if (names === undefined) zones.set(zone, (names = new Map()));
      let wanters = names.get(name);
      if (wanters === undefined) names.set(name, (wanters = new Set()));
      wanters.add(part.service);
    }
    for (const p of part.problems) problems.set(problemKey(p), p);
  }

  const certs: WantedCert[] = [];
  for (const [zone, names] of zones) {
    const [lone] = names.size === 1 ? names : [];
    const id = lone === undefined ? undefined : loneVhostId(lone[0]);
    if (lone !== undefined && id !== undefined) addSingle(id, zone, lone[1]);
    else certs.push(...multiCerts(zone, names, maxNames, problems));
  }
  for (const [id, single] of singles) {
    // The same host can come from two zones (service `www.a` in `example.com`, `www` in
    // `a.example.com`); the most specific zone is kept so the choice does not depend on order.
    const zone = [...single.zones].sort((a, b) => b.length - a.length || compareStrings(a, b))[0] ?? '';
    certs.push(wanted(id, 'single', zone, [id], single.services));
  }
  certs.sort((a, b) => compareStrings(a.id, b.id));

  const sorted = [...problems.values()].sort(
    (a, b) =>
      compareStrings(a.service, b.service) ||
      compareStrings(a.tag ?? '', b.tag ?? '') ||
      compareStrings(a.code, b.code) ||
      compareStrings(a.message, b.message),
  );
  return Object.freeze({ certs: Object.freeze(certs), problems: Object.freeze(sorted) });
}

/**
 * The id of a zone's lone vhost `name`: the name itself, as whisper named it, or `undefined` to keep it in
 * `multi-hosts.<zone>` when the name is unfit as a file name of its own: a wildcard (`*.<zone>`: a `*` in a file
 * name is hostile to shells and globs), a first label reserved for multi-host ids (`multi-hosts.a` of `example.com`
 * would be the id of zone `a.example.com`'s multi-host certificate), or a name longer than {@link MAX_CERT_ID_LENGTH}.
 */
function loneVhostId(name: string): string | undefined {
  if (name.startsWith('*') || isMultiHostId(name) || name.length > MAX_CERT_ID_LENGTH) return undefined;
  return name;
}

function multiCerts(zone: string, byName: Map<string, Set<string>>, maxNames: number, problems: Map<string, PlanProblem>): WantedCert[] {
  const names = [...byName.keys()].sort(compareStrings);
  const chunks: string[][] = [];
  for (let start = 0; start < names.length; start += maxNames) chunks.push(names.slice(start, start + maxNames));
  const ids = chunks.map((_, i) => (i === 0 ? `multi-hosts.${zone}` : `multi-hosts-${i + 1}.${zone}`));
  const longest = ids[ids.length - 1] ?? '';
  if (longest.length > MAX_CERT_ID_LENGTH) {
    const message = `multi-host certificate id ${quote(longest)} is longer than ${MAX_CERT_ID_LENGTH} characters, too long for a file name`;
    for (const service of servicesOf(names, byName)) addProblem(problems, service, `dns=${zone}`, 'HOSTNAME_INVALID', message);
    return [];
  }
  const certs = chunks.map((chunk, i) => wanted(ids[i] ?? '', 'multi', zone, chunk, servicesOf(chunk, byName)));
  if (certs.length > 1) {
    addProblem(
      problems,
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
