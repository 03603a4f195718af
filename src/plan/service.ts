import type { ErrorCode } from '../errors.js';
import { errorMessage } from '../errors.js';
import type { AllowList } from './allow.js';
import { normalizeHostname } from './hostname.js';
import { quote } from './quote.js';
import { parseTags } from './tags.js';
import type { ServiceTags } from './types.js';

/** Something in a service's tags (or a static entry) the planner skipped, and why. */
export interface PlanProblem {
  /**
   * The Consul service whose tags asked for it (several, comma-separated, for `TOO_MANY_NAMES`), or `kv:<key>` for a
   * static entry of `--listen-path`.
   */
  readonly service: string;
  /** The tag at fault, as `key=value` (value trimmed); absent for a static entry (the key is the `service`). */
  readonly tag?: string;
  /** `HOSTNAME_INVALID`, `DOMAIN_NOT_ALLOWED` (also a `vhost=*` without `--allow-wildcard`) or `TOO_MANY_NAMES`. */
  readonly code: ErrorCode;
  /** One line for the operator; untrusted parts are quoted and escaped. */
  readonly message: string;
}

/**
 * What one service asks of the plan, worked out from its tags alone: its own certificates, the names it adds to
 * zones' multi-host certificates, and what was skipped. Services never affect each other's part, so a catalog
 * change only needs the parts of the services that changed (see `IncrementalPlanner`).
 */
export interface ServicePlan {
  readonly service: string;
  /** Single-host certificates: id (= the name) and the zone it came from. */
  readonly singles: ReadonlyArray<{ readonly id: string; readonly zone: string }>;
  /** Names for the multi-host certificate of each zone. */
  readonly vhosts: ReadonlyArray<{ readonly zone: string; readonly name: string }>;
  readonly problems: readonly PlanProblem[];
}

/**
 * Longest certificate id. An id becomes a file name (`<id>.pem`, and temporary or per-format
 * names beside it) and those must stay under the 255-byte limit of common file systems.
 */
export const MAX_CERT_ID_LENGTH = 200;
/** First labels of multi-host ids; a single-host certificate using them would take that file. */
const RESERVED_FIRST_LABEL = /^multi-hosts(?:-[0-9]+)?$/;

/** Options of {@link planService}. */
export interface ServicePlanOptions {
  /** Whether `vhost=*` may ask for `*.<zone>` (`--allow-wildcard`); otherwise the service is skipped. @default false */
  readonly allowWildcard?: boolean;
  /** `--domain`: only these zones (normalized) are planned, compared exactly; others are left out silently, as whisper did. Empty or absent: every zone. */
  readonly domains?: ReadonlySet<string>;
}

/** A part being built (see {@link newDraft}); the `add…` helpers fill it, {@link finishDraft} freezes it. */
export interface Draft {
  readonly service: string;
  readonly allow: AllowList;
  readonly singles: Array<{ id: string; zone: string }>;
  readonly vhosts: Array<{ zone: string; name: string }>;
  readonly problems: Map<string, PlanProblem>;
}

/** Why a `*` name is refused without `--allow-wildcard`. */
export const WILDCARD_REFUSED = 'a wildcard certificate needs --allow-wildcard; nothing is ordered for this service';

/** An empty part for `service` (a Consul service, or a static entry's `kv:<key>`). */
export function newDraft(service: string, allow: AllowList): Draft {
  return { service, allow, singles: [], vhosts: [], problems: new Map() };
}

/** The frozen part of a draft. */
export function finishDraft(d: Draft): ServicePlan {
  return Object.freeze({ service: d.service, singles: d.singles, vhosts: d.vhosts, problems: [...d.problems.values()] });
}

/**
 * One service's part of the plan (whisper's rules): for each `dns=<zone>`, when it has `vhost=` tags and an
 * `https=` or `ssl=` tag, every `<vhost>.<zone>` goes to the zone's multi-host certificate; when it has `ssl=` and
 * no `vhost=`, `<service>.<zone>` gets a certificate of its own; otherwise nothing. Returns `undefined` when the
 * service asks for nothing at all (most services of a catalog). Invalid or disallowed names become problems. A
 * `vhost=*` without `allowWildcard` skips the whole service: anyone who can register a service could otherwise ask
 * for a zone-wide wildcard.
 */
export function planService(service: ServiceTags, allow: AllowList, options: ServicePlanOptions = {}): ServicePlan | undefined {
  const tags = parseTags(service.tags);
  const dns = tags.get('dns');
  const vhosts = tags.get('vhost');
  const hasSsl = tags.has('ssl');
  const multi = vhosts !== undefined && (hasSsl || tags.has('https'));
  const single = vhosts === undefined && hasSsl;
  if (dns === undefined || (!multi && !single)) return undefined;

  const d = newDraft(service.label ?? service.name, allow);
  if (multi && vhosts.includes('*') && options.allowWildcard !== true) {
    addProblem(d.problems, d.service, 'vhost=*', 'DOMAIN_NOT_ALLOWED', WILDCARD_REFUSED);
    return finishDraft(d);
  }
  const seen = new Set<string>();
  for (const rawZone of dns) {
    const dnsTag = `dns=${rawZone}`;
    const zone = checkedZone(d, dnsTag, rawZone);
    if (zone === undefined || seen.has(zone) || !zoneHandled(zone, options.domains)) continue;
    seen.add(zone);
    if (multi) {
      for (const vhost of vhosts ?? []) addVhost(d, zone, vhost, `vhost=${vhost}`);
    } else {
      addSingle(d, zone, service.name, dnsTag);
    }
  }
  return finishDraft(d);
}

/** Normalizes a zone; records a problem (against `tag`) and returns undefined when it is not valid. */
export function checkedZone(d: Draft, tag: string | undefined, rawZone: string): string | undefined {
  try {
    return normalizeHostname(rawZone);
  } catch (err) {
    addProblem(d.problems, d.service, tag, 'HOSTNAME_INVALID', `invalid zone: ${errorMessage(err)}`);
    return undefined;
  }
}

/** Adds `<vhost>.<zone>` to the zone's multi-host certificate; `*` only as the whole vhost (the caller checks `--allow-wildcard`). */
export function addVhost(d: Draft, zone: string, vhost: string, tag: string | undefined): void {
  if (vhost !== '*' && vhost.includes('*')) {
    addProblem(d.problems, d.service, tag, 'HOSTNAME_INVALID', `the only wildcard allowed is vhost=* (for *.${zone})`);
    return;
  }
  const name = checkedName(d, tag, `${vhost}.${zone}`, vhost === '*');
  if (name !== undefined) d.vhosts.push({ zone, name });
}

/** Gives `<host>.<zone>` a certificate of its own, unless invalid, not allowed, reserved or too long for a file name. */
export function addSingle(d: Draft, zone: string, host: string, tag: string | undefined): void {
  const name = checkedName(d, tag, `${host}.${zone}`, false);
  if (name === undefined) return;
  const first = name.slice(0, name.indexOf('.'));
  if (RESERVED_FIRST_LABEL.test(first)) {
    addProblem(d.problems, d.service, tag, 'HOSTNAME_INVALID', `${quote(name)}: ${quote(first)} is reserved for multi-host certificates`);
    return;
  }
  if (name.length > MAX_CERT_ID_LENGTH) {
    const message = `${quote(name)} is longer than ${MAX_CERT_ID_LENGTH} characters, too long for a certificate file name`;
    addProblem(d.problems, d.service, tag, 'HOSTNAME_INVALID', message);
    return;
  }
  d.singles.push({ id: name, zone });
}

/** Normalizes and allow-checks one name; records a problem and returns undefined when it fails. */
function checkedName(d: Draft, tag: string | undefined, raw: string, wildcard: boolean): string | undefined {
  let name: string;
  try {
    name = normalizeHostname(raw, { allowWildcard: wildcard });
  } catch (err) {
    addProblem(d.problems, d.service, tag, 'HOSTNAME_INVALID', errorMessage(err));
    return undefined;
  }
  if (!d.allow.allows(name)) {
    addProblem(d.problems, d.service, tag, 'DOMAIN_NOT_ALLOWED', `${quote(name)} is not in the allow-list`);
    return undefined;
  }
  return name;
}

/** Whether `--domain` lets `zone` be planned (no `--domain`: every zone). */
export function zoneHandled(zone: string, domains: ReadonlySet<string> | undefined): boolean {
  return domains === undefined || domains.size === 0 || domains.has(zone);
}

/** Adds a problem to `problems` unless the same one is there already. */
export function addProblem(problems: Map<string, PlanProblem>, service: string, tag: string | undefined, code: ErrorCode, message: string): void {
  const full = `service ${quote(service)}${tag === undefined ? '' : `, tag ${quote(tag)}`}: ${message}`;
  const key = JSON.stringify([service, tag, code, full]);
  if (problems.has(key)) return;
  const entry: PlanProblem = tag === undefined ? { service, code, message: full } : { service, tag, code, message: full };
  problems.set(key, Object.freeze(entry));
}

/** The key {@link addProblem} de-duplicates by. */
export function problemKey(p: PlanProblem): string {
  return JSON.stringify([p.service, p.tag, p.code, p.message]);
}
