import { createAllowList, type AllowList } from './allow.js';
import { assemblePlan, checkedMaxNames, type Plan, type PlanOptions } from './planner.js';
import { planService, type ServicePlan } from './service.js';
import { nestedPrefixes, planStatic } from './static.js';
import { DOMAIN_SOURCES, mergeDomains, planDomains, type DomainCert, type DomainSource } from './domains.js';
import type { PlanProblem } from './service.js';

const EMPTY_PLAN: Plan = Object.freeze({ certs: Object.freeze([]), problems: Object.freeze([]) });

/** Options of {@link IncrementalPlanner}: the planner's, and the listen paths of static entries. */
export interface IncrementalPlanOptions extends PlanOptions {
  /** `--listen-path` prefixes (normalized), so a key under two of them counts for the deeper one only. @default [] */
  readonly listenPaths?: readonly string[];
  /**
   * The service name in a catalog key, when keys are more than names (`web@dc2` with `--datacenter`): the name makes
   * hostnames, the key labels problems and `WantedCert.services`. @default the key itself
   */
  readonly serviceName?: (key: string) => string;
  /** `--static-domains` / `DOMAINS` (see `parseStaticDomains`): static certificates of the environment. @default [] */
  readonly staticDomains?: readonly (readonly string[])[];
}

/**
 * The planner of a running daemon: keeps each service's part of the plan, and on a catalog change works out only
 * the services that changed. With 10,000 services of which a few have certificate tags, a change of one service
 * costs one tag parse, not 10,000 (and no re-validation of every hostname); a change that leaves every service's
 * part as it was (a service that asks for no certificate, before or after; a tag that changes nothing) returns the
 * previous plan object itself. The plan equals
 * `planCertificates` of the whole catalog (a unit test checks this on random change sequences). Static entries
 * (`--listen-path`) join it as parts of their own (see {@link IncrementalPlanner.updateStatic}), so a certificate
 * asked for by a service and by a static entry is one certificate.
 */
export class IncrementalPlanner {
  readonly #allow: AllowList;
  readonly #maxNames: number;
  readonly #allowWildcard: boolean;
  readonly #domains: ReadonlySet<string>;
  /** Services that ask for something, by name. */
  readonly #parts = new Map<string, ServicePlan>();
  readonly #listenPaths: readonly string[];
  readonly #serviceName: ((key: string) => string) | undefined;
  /** Static entries' parts: listen path → KV key → part. */
  readonly #static = new Map<string, ReadonlyMap<string, ServicePlan>>();
  /** Static certificates (`domains:` of the config file, `DOMAINS`), planned, by source. */
  readonly #staticDomains = new Map<DomainSource, { entries: string; certs: DomainCert[]; problems: PlanProblem[] }>();
  #plan: Plan = EMPTY_PLAN;

  /** @throws WhisperError `CONFIG_INVALID` for an invalid allow-list entry or `maxNames`. */
  constructor(options: IncrementalPlanOptions = {}) {
    this.#maxNames = checkedMaxNames(options.maxNames);
    this.#allow = createAllowList(options.allowDomains ?? []);
    this.#allowWildcard = options.allowWildcard === true;
    this.#domains = new Set(options.domains ?? []);
    this.#listenPaths = options.listenPaths ?? [];
    this.#serviceName = options.serviceName;
    if (options.staticDomains !== undefined && options.staticDomains.length > 0) this.updateDomains('env', options.staticDomains);
  }

  /** The current plan. */
  get plan(): Plan {
    return this.#plan;
  }

  /**
   * Re-plans after a catalog change. `services` is the whole catalog now (name → tags); `changed` names the services
   * that are new, changed their tags or went away since the last call (absent from `services` = gone), or `'all'`
   * to start over. Returns the new plan, or the previous plan object when no service's part changed.
   */
  update(services: ReadonlyMap<string, readonly string[]>, changed: Iterable<string> | 'all'): Plan {
    let touched = false;
    if (changed === 'all') {
      touched = true;
      this.#parts.clear();
      for (const [name, tags] of services) this.#set(name, tags);
    } else {
      for (const name of changed) {
        const tags = services.get(name);
        if (tags === undefined) touched = this.#parts.delete(name) || touched;
        else touched = this.#set(name, tags) || touched;
      }
    }
    if (touched) this.#assemble();
    return this.#plan;
  }

  /**
   * Re-plans after the static entries under listen path `prefix` changed: `entries` is every key under it now (full
   * key → value), replacing what that prefix held before (see `planStatic`). Returns the new plan, or the previous
   * plan object when no entry's part changed (a value changed from one non-`SAN` value to another, say).
   */
  updateStatic(prefix: string, entries: ReadonlyMap<string, string>): Plan {
    const options = { allowWildcard: this.#allowWildcard, domains: this.#domains, nested: nestedPrefixes(prefix, this.#listenPaths) };
    const next = new Map(planStatic(prefix, entries, this.#allow, options).map((part) => [part.service, part]));
    const before = this.#static.get(prefix) ?? new Map<string, ServicePlan>();
    if (next.size === before.size && [...next].every(([key, part]) => sameOrAbsent(before.get(key), part))) return this.#plan;
    if (next.size === 0) this.#static.delete(prefix);
    else this.#static.set(prefix, next);
    this.#assemble();
    return this.#plan;
  }

  /**
   * Replaces the static certificates of `source` (the config file's `domains:` after a reload, or the environment's):
   * each entry one certificate (see `planDomains`), merged after the catalog and the KV static entries, the file's
   * before the environment's (see `mergeDomains`). Returns the new plan, or the previous plan object when the entries
   * are the same as before.
   */
  updateDomains(source: DomainSource, entries: readonly (readonly string[])[]): Plan {
    const key = JSON.stringify(entries);
    if ((this.#staticDomains.get(source)?.entries ?? '[]') === key) return this.#plan;
    const planned = planDomains(source, entries, this.#allow, { allowWildcard: this.#allowWildcard, domains: this.#domains });
    if (entries.length === 0) this.#staticDomains.delete(source);
    else this.#staticDomains.set(source, { entries: key, ...planned });
    this.#assemble();
    return this.#plan;
  }

  #assemble(): void {
    const plan = assemblePlan(this.#allParts(), this.#maxNames);
    const sources = DOMAIN_SOURCES.map((s) => this.#staticDomains.get(s)).filter((d) => d !== undefined);
    this.#plan = mergeDomains(plan, sources.flatMap((d) => d.certs), sources.flatMap((d) => d.problems), this.#maxNames);
  }

  *#allParts(): Iterable<ServicePlan> {
    yield* this.#parts.values();
    for (const parts of this.#static.values()) yield* parts.values();
  }

  /** Works out one service's part; true when it differs from the part before (a new tag that changes nothing: false). */
  #set(name: string, tags: readonly string[]): boolean {
    const service = this.#serviceName ? { name: this.#serviceName(name), tags, label: name } : { name, tags };
    const part = planService(service, this.#allow, { allowWildcard: this.#allowWildcard, domains: this.#domains });
    if (part === undefined) return this.#parts.delete(name);
    const before = this.#parts.get(name);
    this.#parts.set(name, part);
    return before === undefined || !samePart(before, part);
  }
}

function sameOrAbsent(before: ServicePlan | undefined, part: ServicePlan): boolean {
  return before !== undefined && samePart(before, part);
}

/** Same certificates, names and problems (in the same order: both come from the same tags' parse order). */
function samePart(a: ServicePlan, b: ServicePlan): boolean {
  return (
    sameList(a.singles, b.singles, (x, y) => x.id === y.id && x.zone === y.zone) &&
    sameList(a.vhosts, b.vhosts, (x, y) => x.name === y.name && x.zone === y.zone) &&
    sameList(a.problems, b.problems, (x, y) => x.code === y.code && x.tag === y.tag && x.message === y.message)
  );
}

function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  return a.length === b.length && a.every((x, i) => same(x, b[i] as T));
}
