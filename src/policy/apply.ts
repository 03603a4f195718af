import type { IssueOptions } from '../acme/types.js';
import type { DnsProvider } from '../dns/provider.js';
import { WhisperError } from '../errors.js';
import type { Plan } from '../plan/planner.js';
import type { WantedCert } from '../plan/types.js';
import type { CertPolicy } from './types.js';

/**
 * The plan with each certificate's policy applied: the `names:` of its rule added (sorted after the first name,
 * which stays the subject). Pure; the same plan object when no policy adds a name.
 */
export function withPolicyNames(plan: Plan, policyOf: (cert: WantedCert) => CertPolicy): Plan {
  let changed = false;
  const certs = plan.certs.map((cert) => {
    const extra = policyOf(cert).extraNames.filter((n) => !cert.names.includes(n));
    if (extra.length === 0) return cert;
    changed = true;
    const [first, ...rest] = cert.names;
    return { ...cert, names: [first!, ...[...rest, ...extra].sort()] };
  });
  return changed ? { ...plan, certs } : plan;
}

/** What the order of a certificate takes from its policy, beside the signal, `replaces` and the profile. */
export interface PolicyOrderInput {
  readonly policy: CertPolicy;
  /** The named DNS back ends of the config file (each batched). */
  readonly dnsBackend?: (name: string) => DnsProvider;
  /** The key of the certificate in the folder, when the policy reuses keys and there is one. */
  readonly key?: string;
}

/**
 * The per-order options of a certificate's policy (see `IssueOptions`): its challenge, its DNS back end when the
 * file names one, its key type, its pinned key. Pure. Throws `CONFIG_INVALID` for a back end nobody can build.
 */
export function orderOptions(input: PolicyOrderInput): Pick<IssueOptions, 'challenge' | 'dns' | 'keyType' | 'key' | 'profile'> {
  const { policy } = input;
  let dns: DnsProvider | undefined;
  if (policy.dns !== undefined) {
    if (!input.dnsBackend) throw new WhisperError('CONFIG_INVALID', `DNS back end ${policy.dns}: no config file defines it`);
    dns = input.dnsBackend(policy.dns);
  }
  return {
    challenge: policy.challenge,
    keyType: policy.keyType,
    ...(dns ? { dns } : {}),
    ...(policy.reuseKey && input.key ? { key: input.key } : {}),
    ...(policy.profile ? { profile: policy.profile } : {}),
  };
}
