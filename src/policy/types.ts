import type { ChallengeType } from '../acme/challenge-choice.js';
import type { KeyType } from '../acme/keys.js';
import type { RenewBefore } from '../lifecycle/schedule.js';

/** Every challenge a certificate's policy may name: the DNS ones of `--challenge`, and HTTP-01. */
export type PolicyChallenge = ChallengeType | 'http-01';

/** What happens to a certificate whose services and entries are all gone. */
export type OnRemoval =
  /** whisper's behaviour: the files stay. */
  | { readonly kind: 'keep' }
  /** The files whisper-ts wrote (never others) are deleted this long after the last source dropped the name. */
  | { readonly kind: 'delete'; readonly afterMs: number };

/**
 * How one certificate is ordered, renewed and delivered: the command line's global options, overridden by the
 * config file's defaults and then by the first `certificates:` rule that matches it (see `policy/resolve.ts`).
 */
export interface CertPolicy {
  /** Named DNS back end of the config file's `dns:` map; `undefined`: the one of `--dns-provider`. */
  readonly dns?: string;
  readonly challenge: PolicyChallenge;
  readonly keyType: KeyType;
  /** Keep the private key across renewals (key pinning). @default false */
  readonly reuseKey: boolean;
  /** Without ARI: how long before expiry to renew. `undefined`: a third of the lifetime. */
  readonly renewBefore?: RenewBefore;
  /** ACME profile, when the CA offers it. */
  readonly profile?: string;
  /** Names of targets (`targets:` of the file) this certificate goes to; `undefined`: every configured target. */
  readonly targets?: readonly string[];
  /** Names added to the certificate beside those its sources ask for (lowercase ASCII). @default [] */
  readonly extraNames: readonly string[];
  readonly onRemoval: OnRemoval;
  /** Which rule decided (`certificates[2]`, or its `name:`), for logs and `check-config`; `undefined`: the defaults. */
  readonly rule?: string;
}
