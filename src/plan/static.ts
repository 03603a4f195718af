import type { AllowList } from './allow.js';
import { quote } from './quote.js';
import {
  addProblem,
  addSingle,
  addVhost,
  checkedZone,
  finishDraft,
  newDraft,
  WILDCARD_REFUSED,
  zoneHandled,
  type ServicePlan,
  type ServicePlanOptions,
} from './service.js';

/** What a static entry's `service` starts with, so problems, logs and `status` tell it from a Consul service. */
export const STATIC_SERVICE_PREFIX = 'kv:';

/** The value of a static entry that puts its host in the zone's multi-host certificate (whisper's `SAN`). */
export const SAN_VALUE = 'SAN';

/** Options of {@link planStatic}: those of `planService`, and the listen paths nested in this one. */
export interface StaticPlanOptions extends ServicePlanOptions {
  /**
   * Other `--listen-path` prefixes under this one (`a/b` under `a`): their keys are their own watcher's, not
   * mis-shaped keys of this one. @default []
   */
  readonly nested?: readonly string[];
}

/**
 * What to list in Consul KV for listen path `prefix`: the folder, with its slash, as Consul matches a plain string
 * prefix (`whisper/static` would also list `whisper/static2/...`).
 */
export function staticKeyPrefix(prefix: string): string {
  return `${prefix}/`;
}

/** The `service` naming the static entry of KV key `key` (see {@link STATIC_SERVICE_PREFIX}). */
export function staticService(key: string): string {
  return `${STATIC_SERVICE_PREFIX}${key}`;
}

/** True when a problem's `service` (one or several, comma-separated) names a static entry. */
export function fromStatic(service: string): boolean {
  return service.split(', ').some((s) => s.startsWith(STATIC_SERVICE_PREFIX));
}

/** The other listen paths nested in `prefix` (see {@link StaticPlanOptions.nested}). */
export function nestedPrefixes(prefix: string, all: readonly string[]): string[] {
  return all.filter((p) => p.startsWith(`${prefix}/`));
}

/**
 * The static entries of one `--listen-path` (whisper's `_refresh_static`): each KV key `<prefix>/<zone>/<host>`
 * asks for `<host>.<zone>`. A value of `SAN` (white space around it ignored, case kept, as whisper compared it)
 * puts it in the zone's multi-host certificate, like a `vhost=` tag; any other value, the empty one included, gives
 * it a certificate of its own, like a service with `ssl=` and no vhost.
 *
 * Returns one part per key that asks for something or has a problem, its `service` being `kv:<key>`. Keys come
 * from whoever may write under the prefix, so they are checked as tags are: the same hostname, allow-list,
 * `--domain`, `--allow-wildcard`, reserved-label and length rules (a zone outside `--domain` is left out silently,
 * as whisper did). A key that is not exactly `<zone>/<host>` under the prefix (deeper, shallower, a folder key
 * ending in `/`, an empty segment) is a `HOSTNAME_INVALID` problem, not a guess. Pure; keys of `nested` prefixes
 * are skipped.
 *
 * @param prefix the listen path, without leading or trailing `/` (as `Config.listenPaths` holds it).
 * @param entries KV key → value, keys in full (as Consul lists them).
 */
export function planStatic(
  prefix: string,
  entries: ReadonlyMap<string, string>,
  allow: AllowList,
  options: StaticPlanOptions = {},
): ServicePlan[] {
  const parts: ServicePlan[] = [];
  const nested = (options.nested ?? []).map((p) => `${p}/`);
  for (const [key, value] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (nested.some((p) => key.startsWith(p))) continue;
    const part = planEntry(prefix, key, value, allow, options);
    if (part !== undefined) parts.push(part);
  }
  return parts;
}

function planEntry(prefix: string, key: string, value: string, allow: AllowList, options: ServicePlanOptions): ServicePlan | undefined {
  const d = newDraft(staticService(key), allow);
  const segments = key.startsWith(`${prefix}/`) ? key.slice(prefix.length + 1).split('/') : [];
  const [rawZone, host] = segments;
  if (segments.length !== 2 || !rawZone || !host) {
    const message = `not a static entry: the key must be ${quote(`${prefix}/<zone>/<host>`)}; skipped`;
    addProblem(d.problems, d.service, undefined, 'HOSTNAME_INVALID', message);
    return finishDraft(d);
  }
  const zone = checkedZone(d, undefined, rawZone);
  if (zone !== undefined && !zoneHandled(zone, options.domains)) return undefined;
  if (zone !== undefined && value.trim() === SAN_VALUE) {
    // A `*` host asks for `*.<zone>`, as `vhost=*` does, and needs the same permission.
    if (host === '*' && options.allowWildcard !== true) addProblem(d.problems, d.service, undefined, 'DOMAIN_NOT_ALLOWED', WILDCARD_REFUSED);
    else addVhost(d, zone, host, undefined);
  } else if (zone !== undefined) {
    addSingle(d, zone, host, undefined);
  }
  return finishDraft(d);
}
