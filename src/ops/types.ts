import type { QueueEntry } from '../queue/types.js';
import type { BucketSnapshot } from '../limits/budget.js';
import type { TargetStatus } from '../status/targets.js';
import type { HistoryQuery, HistoryRow } from '../history/types.js';

/** One certificate as the admin API and the dashboard show it. Dates are ISO strings (JSON). */
export interface CertificateView {
  readonly id: string;
  /** The HAProxy file's base name (`<id>.pem`); the id when no file exists yet. */
  readonly file: string;
  readonly names: readonly string[];
  /** Whether a source (Consul, KV, the config file, an import) still asks for it. */
  readonly wanted: boolean;
  readonly services?: readonly string[];
  /** Issuer DN; empty when no file exists yet. */
  readonly issuer: string;
  readonly serial?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** `ecdsa-p256`, `rsa-2048`, … of the certificate's key. */
  readonly keyType?: string;
  readonly nextRenewal?: string;
  /** Why it renews then: `ARI window`, `lifetime rule`, `requested`, `issued by another CA`, `missing`, … */
  readonly renewalReason?: string;
  readonly ariWindow?: { readonly start: string; readonly end: string };
  readonly deferredUntil?: string;
  /** A forced renewal is pending (asked through the API or `whisper-ts renew --force`). */
  readonly renewRequested?: boolean;
  readonly lastError?: { readonly at: string; readonly code: string; readonly message: string };
  readonly targets?: Readonly<Record<string, TargetStatus>>;
}

/** The rate-limit budget as the API shows it. */
export interface LimitsView {
  readonly buckets: readonly BucketSnapshot[];
  /** The earliest moment a bucket that is spent has a token again (absent: nothing is spent). */
  readonly nextFreeAt?: string;
}

/** The ACME account as `account show` and the API show it (never the key itself). */
export interface AccountView {
  readonly directoryUrl: string;
  /** Absent before the account is registered. */
  readonly url?: string;
  /** RFC 7638 thumbprint of the account key. */
  readonly thumbprint?: string;
  readonly keyType?: string;
  /** From the CA (POST-as-GET of the account), when it answered. */
  readonly status?: string;
  readonly contact?: readonly string[];
  /** Account URLs at other directories, from the store. */
  readonly urls: Readonly<Record<string, string>>;
}

/** The answer to a forced renewal. */
export interface RenewResult {
  readonly id: string;
  /** When the order will run: now, or when the rate-limit budget has room again. */
  readonly runsAt: string;
  /** Set when the budget holds it back: which bucket is spent. */
  readonly deferredBy?: { readonly bucket: string; readonly key: string };
  readonly message: string;
}

/** RFC 5280 revocation reasons ACME accepts (RFC 8555 §7.6). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
} as const;

/** A name of {@link REVOCATION_REASONS}. */
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** The answer to a revocation: the certificate is revoked and its replacement queued. */
export interface RevokeResult {
  readonly id: string;
  readonly serial: string;
  readonly reason: RevocationReason;
  readonly replacement: RenewResult;
}

/** Who asked for an action (recorded in the history). */
export type ActionSource = 'api' | 'cli' | 'dashboard';

/**
 * What the admin API serves and acts on: the running daemon's view (`ops/daemon-backend.ts`). Every reader answers
 * from memory or the folder; actions are recorded in the history. An action on a certificate nobody wants, or that is
 * unknown, fails with `NOT_FOUND`.
 */
export interface OpsBackend {
  certificates(): Promise<CertificateView[]>;
  queue(): readonly QueueEntry[];
  limits(): LimitsView;
  account(): Promise<AccountView>;
  history(q: HistoryQuery): readonly HistoryRow[];
  /** Queues a renewal now (budget permitting): `force` renews even when it is not due. */
  renew(id: string, opts: { readonly force: boolean; readonly by: ActionSource }): Promise<RenewResult>;
  revoke(id: string, opts: { readonly reason: RevocationReason; readonly by: ActionSource }): Promise<RevokeResult>;
  /**
   * Adopts certificates issued elsewhere (`whisper-ts import`): each PEM holds the leaf, its chain and its private key;
   * it is validated, written under the id its names give, and renewed on schedule from then on. All or nothing: one
   * invalid PEM fails the call (`CONFIG_INVALID` naming it) before anything is written.
   */
  importCerts(pems: readonly { readonly name: string; readonly pem: string }[], opts: { readonly by: ActionSource }): Promise<ImportResult[]>;
}

/** One adopted certificate. */
export interface ImportResult {
  readonly id: string;
  readonly file: string;
  readonly names: readonly string[];
  readonly serial: string;
  readonly notAfter: string;
}

/** A live update for the dashboard (server-sent events): a new history row, or a change to re-read. */
export type OpsEvent =
  | { readonly type: 'history'; readonly row: HistoryRow }
  | { readonly type: 'changed'; readonly what: 'certificates' | 'queue' | 'limits' | 'account' };

/** Publishes {@link OpsEvent}s to the dashboard's open event streams. */
export interface OpsEvents {
  publish(event: OpsEvent): void;
  /** Returns the unsubscribe function. */
  subscribe(listener: (event: OpsEvent) => void): () => void;
}
