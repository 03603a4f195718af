import type { Config } from '../config.js';
import type { PolicyFile, PolicySettings } from './file-types.js';
import { matchingRule, type PolicyCertificate } from './match.js';
import type { CertPolicy } from './types.js';

/**
 * The per-certificate options of the command line, by their `OPTIONS` key, and the {@link CertPolicy} field each
 * sets. When one was given by flag or environment (`Config.explicitOptions`), the file's `defaults:` do not change it.
 */
export const PER_CERT_OPTIONS = {
  challenge: 'challenge',
  keyType: 'keyType',
  renewBefore: 'renewBefore',
  profile: 'profile',
  dnsProvider: 'dns',
} as const satisfies Readonly<Record<string, keyof CertPolicy>>;

const KEEP = Object.freeze({ kind: 'keep' as const });

/**
 * The policy every certificate starts from: the command line and the environment, then the file's `defaults:` for
 * each option the command line and the environment did not set explicitly (`--key-type` given: the file's `key_type`
 * default is ignored; left to its built-in default: the file's applies). A `--dns-provider` given explicitly keeps
 * `dns` undefined (the global back end) whatever the file's default. Options without a command-line counterpart
 * (`reuse_key`, `targets`, `on_removal`) come from the file, else their defaults. Pure.
 */
export function basePolicy(config: Config, file: PolicyFile | undefined): CertPolicy {
  const explicit = new Set(config.explicitOptions ?? []);
  const d: PolicySettings = file?.defaults ?? {};
  const pick = <T>(key: keyof typeof PER_CERT_OPTIONS, fromConfig: T, fromFile: T | undefined): T =>
    explicit.has(key) || fromFile === undefined ? fromConfig : fromFile;
  const renewBefore = pick('renewBefore', config.renewBefore, d.renewBefore);
  const profile = pick('profile', config.profile, d.profile);
  const dns = explicit.has('dnsProvider') ? undefined : d.dns;
  return Object.freeze({
    ...(dns !== undefined ? { dns } : {}),
    challenge: pick('challenge', config.challenge, d.challenge),
    keyType: pick('keyType', config.keyType, d.keyType),
    reuseKey: d.reuseKey ?? false,
    ...(renewBefore !== undefined ? { renewBefore } : {}),
    ...(profile !== undefined ? { profile } : {}),
    ...(d.targets !== undefined ? { targets: d.targets } : {}),
    extraNames: Object.freeze([]),
    onRemoval: d.onRemoval ?? KEEP,
  });
}

/**
 * The policy of one certificate: `base` (from {@link basePolicy}), then every field the first `certificates:` rule
 * that matches it sets (see `ruleMatches`), whatever the command line said: a rule is about certain certificates, the
 * command line about all. `rule` names the rule that decided (its `label:` or `certificates[<i>]`), absent when none
 * matched. `extraNames` are the rule's `names:` not already among the certificate's. Pure; `file` undefined: `base`.
 */
export function resolvePolicy(cert: PolicyCertificate, file: PolicyFile | undefined, base: CertPolicy): CertPolicy {
  const rule = matchingRule(cert, file);
  if (rule === undefined) return base;
  const s = rule.set;
  const extra = (s.extraNames ?? []).filter((n) => !cert.names.includes(n));
  return Object.freeze({
    ...base,
    ...(s.dns !== undefined ? { dns: s.dns } : {}),
    ...(s.challenge !== undefined ? { challenge: s.challenge } : {}),
    ...(s.keyType !== undefined ? { keyType: s.keyType } : {}),
    ...(s.reuseKey !== undefined ? { reuseKey: s.reuseKey } : {}),
    ...(s.renewBefore !== undefined ? { renewBefore: s.renewBefore } : {}),
    ...(s.profile !== undefined ? { profile: s.profile } : {}),
    ...(s.targets !== undefined ? { targets: s.targets } : {}),
    ...(s.onRemoval !== undefined ? { onRemoval: s.onRemoval } : {}),
    extraNames: Object.freeze(extra),
    rule: rule.label,
  });
}
