import type { PolicyFile, PolicyRule } from './file-types.js';

/** What a rule is matched against: a wanted certificate (its id, zone and the names its sources ask for). */
export interface PolicyCertificate {
  readonly id: string;
  readonly zone: string;
  readonly names: readonly string[];
}

const compiled = new Map<string, RegExp>();

/**
 * Whether `name` matches glob `pattern` (both lowercase). `*` stands for one or more characters within one label
 * (no dot): `*.shop.example.com` matches `a.shop.example.com`, not `a.b.shop.example.com` nor `shop.example.com`;
 * `api-*.example.com` matches `api-eu.example.com`. `**` stands for one or more characters across labels:
 * `**.example.com` matches every name under `example.com` at any depth (not `example.com` itself). Every other
 * character matches itself, so a wildcard name `*.example.com` is matched by the pattern `*.example.com` too.
 */
export function globMatches(pattern: string, name: string): boolean {
  let re = compiled.get(pattern);
  if (re === undefined) {
    const body = pattern
      .split(/(\*\*|\*)/)
      .map((part) => (part === '**' ? '.+' : part === '*' ? '[^.]+' : part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re.test(name);
}

/**
 * Whether `rule` matches `cert`: every matcher the rule has must match (a rule with `zone:` and `pattern:` matches
 * certificates of that zone with a name matching the pattern). `zone:` compares the certificate's zone exactly (not
 * its parents: `zone: example.com` does not match a certificate of zone `shop.example.com`); `name:` matches when
 * one of the certificate's names is one of the listed names; `pattern:` when one of its names matches one of the
 * globs (see {@link globMatches}). One name is enough: a multi-host certificate is one key, one order, one policy,
 * so a rule that matches any of its names decides for all of them.
 */
export function ruleMatches(rule: PolicyRule, cert: PolicyCertificate): boolean {
  if (rule.zones !== undefined && !rule.zones.includes(cert.zone)) return false;
  if (rule.names !== undefined && !cert.names.some((n) => rule.names!.includes(n))) return false;
  if (rule.patterns !== undefined && !cert.names.some((n) => rule.patterns!.some((p) => globMatches(p, n)))) return false;
  return true;
}

/** The first rule of `file` that matches `cert` (file order), or `undefined`. */
export function matchingRule(cert: PolicyCertificate, file: PolicyFile | undefined): PolicyRule | undefined {
  return file?.rules.find((rule) => ruleMatches(rule, cert));
}
