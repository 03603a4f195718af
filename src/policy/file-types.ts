import type { KeyType } from '../acme/keys.js';
import type { RenewBefore } from '../lifecycle/schedule.js';
import type { OnRemoval, PolicyChallenge } from './types.js';

/**
 * A named DNS back end of the config file's `dns:` map. The fields mirror the command line's (`--route53-*`,
 * `--rfc2136-*`, `--exec-command`); a TSIG secret is only ever read from a file, at load (and again at each reload).
 */
export type DnsBackendSpec =
  | {
      readonly provider: 'route53';
      /** AWS profile of `~/.aws/credentials` / `~/.aws/config`. Absent: the profile named after the zone, as with `--dns-provider route53`. */
      readonly profile?: string;
      /** Absent: `--route53-region`. */
      readonly region?: string;
      /** Absent: `--route53-endpoint`. */
      readonly endpoint?: string;
      /** Requests per second of this back end. Absent: the shared `--route53-rps` budget. */
      readonly requestsPerSecond?: number;
    }
  | {
      readonly provider: 'rfc2136';
      /** Primary server, host or host:port. */
      readonly server: string;
      /** Zone to update; absent: found by SOA queries. */
      readonly zone?: string;
      /** TSIG key: `tsig_name`, `tsig_algorithm` (@default 'hmac-sha256') and the base64 secret read from `tsig_secret_file`. */
      readonly tsig?: { readonly name: string; readonly algorithm: string; readonly secret: string; readonly secretFile: string };
    }
  | { readonly provider: 'exec'; readonly command: string }
  | { readonly provider: 'none' };

/**
 * A named delivery target of the file's `targets:` map: a value with `://` is a `--target` URL (`acm://`, `s3://`,
 * `sftp://`, ...), any other value a `--haproxy-socket` address (an absolute unix socket path or host:port).
 */
export type PolicyTarget = { readonly kind: 'url'; readonly url: string } | { readonly kind: 'haproxy-socket'; readonly address: string };

/** What a `defaults:` block may set: every per-certificate setting but extra names. */
export interface PolicySettings {
  readonly dns?: string;
  readonly challenge?: PolicyChallenge;
  readonly keyType?: KeyType;
  readonly reuseKey?: boolean;
  readonly renewBefore?: RenewBefore;
  readonly profile?: string;
  readonly targets?: readonly string[];
  readonly onRemoval?: OnRemoval;
}

/** One `certificates:` rule. It matches a certificate when every matcher it has matches (see `policy/match.ts`). */
export interface PolicyRule {
  /** Its `label:`, or `certificates[<index>]`: what logs and `check-config` show. */
  readonly label: string;
  /** Line of the rule in the file (1-based). */
  readonly line: number;
  /** `zone:`: the certificate's zone is one of these (exact, normalized). */
  readonly zones?: readonly string[];
  /** `name:`: one of the certificate's names is one of these (exact, normalized). */
  readonly names?: readonly string[];
  /** `pattern:`: one of the certificate's names matches one of these globs (lowercase). */
  readonly patterns?: readonly string[];
  /** What the rule sets; `extraNames` is its `names:`. */
  readonly set: PolicySettings & { readonly extraNames?: readonly string[] };
}

/** A loaded, validated config file (see `loadPolicyFile`). Frozen. */
export interface PolicyFile {
  /** The file as given (for messages). */
  readonly path: string;
  /** `defaults:`: apply where the command line and the environment did not set the option. @default {} */
  readonly defaults: PolicySettings;
  /** `dns:`: back ends by name. @default {} */
  readonly dns: Readonly<Record<string, DnsBackendSpec>>;
  /** `targets:`: delivery targets by name. @default {} */
  readonly targets: Readonly<Record<string, PolicyTarget>>;
  /** `certificates:` in file order; the first that matches wins. @default [] */
  readonly rules: readonly PolicyRule[];
  /** `domains:`: static certificates, each a list of normalized names (a wildcard allowed), in file order. @default [] */
  readonly domains: readonly (readonly string[])[];
}
