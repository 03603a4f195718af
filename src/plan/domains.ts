import { WhisperError, errorMessage } from '../errors.js';
import type { AllowList } from './allow.js';
import { normalizeHostname } from './hostname.js';
import { compareStrings, type Plan } from './planner.js';
import { quote } from './quote.js';
import { addProblem, problemKey, MAX_CERT_ID_LENGTH, WILDCARD_REFUSED, type PlanProblem } from './service.js';
import type { WantedCert } from './types.js';

/**
 * Where a static certificate comes from: the config file's `domains:`, `--static-domains` / `DOMAINS`, or a certificate
 * adopted by `whisper-ts import`. The order is the precedence: a name asked for by the catalog or a KV static entry
 * stays theirs, then the file's, then the environment's, then the imports' (see {@link mergeDomains}).
 */
export type DomainSource = 'file' | 'env' | 'import';

/** The sources of {@link DomainSource} in order of precedence. */
export const DOMAIN_SOURCES: readonly DomainSource[] = ['file', 'env', 'import'];

/** The `service` naming a static certificate in problems, logs and `status`: `file:a,b`, `env:a,b` or `import:a,b`. */
export function domainService(source: DomainSource, entry: readonly string[]): string {
  return `${source}:${entry.join(',')}`;
}

/**
 * `--static-domains` / `DOMAINS`: certificates separated by `;` or white space, names of one certificate by commas
 * (`example.com,www.example.com;api.example.org`). Each name is checked as a tag's hostname here (a bad one is an
 * invalid option naming its entry); the allow-list, `--domain` and `--allow-wildcard` apply in the planner.
 *
 * @throws WhisperError `CONFIG_INVALID` naming `option` and the entry.
 */
export function parseStaticDomains(value: string | undefined, option = '--static-domains'): string[][] {
  const entries = (value ?? '').split(/[;\s]+/).filter((e) => e.replace(/,/g, '') !== '');
  return entries.map((entry) => {
    const names = entry.split(',').map((n) => n.trim()).filter(Boolean);
    return [...new Set(names.map((n) => {
      try {
        return normalizeHostname(n.replace(/\.$/, ''), { allowWildcard: true });
      } catch (err) {
        throw new WhisperError('CONFIG_INVALID', `${option}: entry ${quote(entry)}: ${errorMessage(err)}`, { cause: err });
      }
    }))];
  });
}

/** One static certificate the planner accepted (before conflicts with other sources are looked at). */
export interface DomainCert {
  readonly service: string;
  readonly id: string;
  readonly zone: string;
  /** Unique, sorted. */
  readonly names: readonly string[];
}

/** Options of {@link planDomains}: those of the tags. */
export interface DomainPlanOptions {
  readonly allowWildcard?: boolean;
  /** `--domain` zones; empty or absent: every zone. */
  readonly domains?: ReadonlySet<string>;
}

/**
 * Static certificates of one source. Each entry is one certificate; its names pass the rules of tags: hostname
 * syntax, the allow-list, `--allow-wildcard` for a `*.` name. The id follows whisper's naming: the name itself for a
 * certificate of one name; for several, the first name of the entry that is not a wildcard (`example.com,
 * *.example.com` → `example.com.pem`). The zone is the one `--domain` zone every name is in or under (the longest),
 * else the names' longest common parent: `www.example.com` → `example.com`, `example.com,www.example.com` →
 * `example.com`; an entry outside every `--domain` zone is left out silently, as tags are; names with no common
 * parent of two labels or more are a problem. Any problem skips the whole entry (a certificate is never ordered for
 * part of what was asked).
 */
export function planDomains(
  source: DomainSource,
  entries: readonly (readonly string[])[],
  allow: AllowList,
  options: DomainPlanOptions = {},
): { certs: DomainCert[]; problems: PlanProblem[] } {
  const certs: DomainCert[] = [];
  const problems = new Map<string, PlanProblem>();
  for (const entry of entries) {
    const service = domainService(source, entry);
    const problem = (code: PlanProblem['code'], message: string) => addProblem(problems, service, undefined, code, message);
    const names: string[] = [];
    for (const raw of entry) {
      try {
        names.push(normalizeHostname(raw, { allowWildcard: true }));
      } catch (err) {
        problem('HOSTNAME_INVALID', errorMessage(err));
      }
    }
    if (names.length !== entry.length || names.length === 0) continue;
    if (names.some((n) => n.startsWith('*.')) && options.allowWildcard !== true) {
      problem('DOMAIN_NOT_ALLOWED', WILDCARD_REFUSED);
      continue;
    }
    const refused = names.filter((n) => !allow.allows(n));
    if (refused.length > 0) {
      problem('DOMAIN_NOT_ALLOWED', `${refused.map(quote).join(', ')} not in the allow-list; nothing is ordered for this entry`);
      continue;
    }
    const zone = zoneOf(names, options.domains);
    if (zone === null) continue;
    if (zone === undefined) {
      problem('HOSTNAME_INVALID', 'the names of one certificate must share a zone of two labels or more; nothing is ordered for this entry');
      continue;
    }
    const id = names.find((n) => !n.startsWith('*.'));
    if (id === undefined) {
      problem('HOSTNAME_INVALID', `a wildcard alone cannot name a file: add a plain name, e.g. ${quote(`${zone},*.${zone}`)}`);
      continue;
    }
    if (/^multi-hosts(?:-[0-9]+)?\./.test(id) || id.length > MAX_CERT_ID_LENGTH) {
      problem('HOSTNAME_INVALID', `${quote(id)} cannot be a certificate file name (reserved first label, or longer than ${MAX_CERT_ID_LENGTH})`);
      continue;
    }
    certs.push({ service, id, zone, names: [...new Set(names)].sort(compareStrings) });
  }
  return { certs, problems: [...problems.values()] };
}

/** The zone of an entry (see {@link planDomains}); `null`: outside `--domain`; `undefined`: no common zone. */
function zoneOf(names: readonly string[], domains: ReadonlySet<string> | undefined): string | null | undefined {
  const bare = names.map((n) => (n.startsWith('*.') ? n.slice(2) : n));
  const under = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);
  if (domains !== undefined && domains.size > 0) {
    const zones = [...domains].filter((z) => bare.every((n) => under(n, z))).sort((a, b) => b.length - a.length);
    return zones[0] ?? null;
  }
  let labels = bare[0]!.split('.');
  for (const name of bare.slice(1)) {
    const other = name.split('.');
    let k = 0;
    while (k < labels.length && k < other.length && labels[labels.length - 1 - k] === other[other.length - 1 - k]) k += 1;
    labels = labels.slice(labels.length - k);
  }
  // A common suffix that is itself one of the names (`www.example.com` alone) is a host: its zone is its parent.
  if (labels.length >= 3 && bare.includes(labels.join('.'))) labels = labels.slice(1);
  return labels.length >= 2 ? labels.join('.') : undefined;
}

/**
 * Adds static certificates (file's first, then the environment's) to a plan of the catalog and the KV static
 * entries. A static certificate with the id and the names of one already planned is that certificate (its services
 * gain the entry); one that shares a name or an id with a certificate planned before it otherwise is a conflict: it
 * is left out and a `CONFIG_INVALID` problem names both, so the first source keeps the name (catalog, KV, file,
 * environment) and no name is ever in two certificates. An entry over `maxNames` names is a `TOO_MANY_NAMES` problem.
 */
export function mergeDomains(plan: Plan, statics: readonly DomainCert[], extraProblems: readonly PlanProblem[], maxNames: number): Plan {
  if (statics.length === 0 && extraProblems.length === 0) return plan;
  const certs = new Map<string, WantedCert>(plan.certs.map((c) => [c.id, c]));
  const owner = new Map<string, string>();
  for (const c of plan.certs) for (const n of c.names) owner.set(n, c.id);
  const problems = new Map<string, PlanProblem>([...plan.problems, ...extraProblems].map((p) => [problemKey(p), p]));
  for (const s of statics) {
    const same = certs.get(s.id);
    if (same !== undefined && same.names.length === s.names.length && same.names.every((n, i) => n === s.names[i])) {
      certs.set(s.id, freezeCert({ ...same, services: [...new Set([...same.services, s.service])].sort(compareStrings) }));
      continue;
    }
    const taken = s.names.filter((n) => owner.has(n));
    if (same !== undefined || taken.length > 0) {
      const other = same?.id ?? owner.get(taken[0]!)!;
      const what = same !== undefined ? `its file name ${quote(`${s.id}.pem`)}` : `${taken.map(quote).join(', ')}`;
      addProblem(problems, s.service, undefined, 'CONFIG_INVALID', `conflict: ${what} already in certificate ${quote(other)} (asked for by ${(certs.get(other)?.services ?? []).join(', ')}), which comes first; this entry is left out`);
      continue;
    }
    if (s.names.length > maxNames) {
      addProblem(problems, s.service, undefined, 'TOO_MANY_NAMES', `${s.names.length} names, over ${maxNames} per certificate; this entry is left out`);
      continue;
    }
    certs.set(s.id, freezeCert({ id: s.id, kind: s.names.length === 1 ? 'single' : 'multi', zone: s.zone, names: s.names, services: [s.service] }));
    for (const n of s.names) owner.set(n, s.id);
  }
  const sortedProblems = [...problems.values()].sort(
    (a, b) => compareStrings(a.service, b.service) || compareStrings(a.tag ?? '', b.tag ?? '') || compareStrings(a.code, b.code) || compareStrings(a.message, b.message),
  );
  return Object.freeze({
    certs: Object.freeze([...certs.values()].sort((a, b) => compareStrings(a.id, b.id))),
    problems: Object.freeze(sortedProblems),
  });
}

function freezeCert(c: WantedCert): WantedCert {
  return Object.freeze({ ...c, names: Object.freeze([...c.names]), services: Object.freeze([...c.services]) });
}
