import type { BudgetEvent } from '../limits/replay.js';

/** Name of the state file in the certificate folder (dot-prefixed, like the `.acme` account key beside it). */
export const STATE_FILE = '.whisper-state.json';

/** Version of the state file format this build reads and writes. */
export const STATE_VERSION = 1;

/** The last failure of a certificate's job. */
export interface CertError {
  readonly at: Date;
  /** A WhisperError code (`INTERNAL` for anything else). */
  readonly code: string;
  /** Never a secret: messages name things, not key material or TXT values. */
  readonly message: string;
}

/** What `status` shows about one certificate beyond the file itself. */
export interface CertState {
  readonly lastError?: CertError;
  /** When the daemon plans to renew it. */
  readonly nextRenewal?: Date;
  /** Whether `nextRenewal` was drawn in the CA's ARI window (otherwise a lifetime rule decided). */
  readonly ariChosen?: boolean;
  /** The last ARI window, kept so the drawn moment stays stable across sweeps and restarts. */
  readonly ariWindow?: { readonly start: Date; readonly end: Date };
  /** When to poll ARI again (the CA's `Retry-After`). */
  readonly ariRetryAfter?: Date;
  /** Held back by the rate-limit budget or a CA `Retry-After` until then. */
  readonly deferredUntil?: Date;
  /** Directory URL of the CA that issued the certificate in the folder (absent: unknown, e.g. a file from whisper). */
  readonly ca?: string;
  /** ARI certID the CA refused as `replaces` (another account's, already replaced): renew without it. */
  readonly replacesRefused?: string;
  /** ARI certID of the certificate the ARI fields above belong to: a window of another certificate is never used. */
  readonly ariCertId?: string;
  /**
   * Serial number (uppercase hex) of the certificate whisper-ts last wrote under this id. The file is whisper-ts's
   * own while it holds that serial: only then may it be removed when superseded. `ca` cannot tell this, as it is
   * also inferred for files of whisper; a file of whisper, or one copied in by hand, has no serial recorded here.
   */
  readonly written?: string;
  /**
   * When the last source asking for this certificate dropped it (the plan no longer wants it); cleared when it is
   * wanted again. An `on_removal: delete_after` policy counts from here.
   */
  readonly unwantedSince?: Date;
  /**
   * An operator asked for a renewal now (the admin API, `whisper-ts renew --force`, or a revocation's replacement):
   * the next decision orders it whatever the schedule says, budget permitting. Cleared once a new certificate is stored.
   */
  readonly renewRequested?: { readonly at: Date; readonly by: string };
  /**
   * Adopted by `whisper-ts import`: the names it covers. The daemon wants it (renews it on schedule) as long as this
   * is set, like a `domains:` entry of the config file.
   */
  readonly imported?: { readonly names: readonly string[]; readonly at: Date };
}

/**
 * What one delivery target did with one certificate (the delivery journal, see `targets/manager.ts`). Kept apart
 * from {@link CertState}: a removal still to deliver outlives the certificate's own entry (pruned at the sweep).
 */
export interface TargetRecord {
  /** Serial (uppercase hex) this target last delivered for this id. */
  readonly delivered?: string;
  /** When `delivered` was delivered. */
  readonly at?: Date;
  /** The last failure since then (cleared by a success). */
  readonly lastError?: CertError;
  /** Failed attempts since the last success. @default 0 */
  readonly attempts?: number;
  /** What the target keeps for this certificate (an ARN, a name): small JSON values, never secrets. */
  readonly memo?: Readonly<Record<string, string | number | boolean>>;
  /** A removal still to deliver: the path the file had in the folder (the file is gone). */
  readonly removing?: string;
}

/** The delivery journal: per target name, per certificate id. */
export type TargetJournalData = Record<string, Record<string, TargetRecord>>;

/** Everything the daemon keeps between runs, besides the certificates and the account. */
export interface WhisperState {
  /** The rate-limit budget's history (see `RateBudget.events`). */
  budget: BudgetEvent[];
  /** Per certificate id (the file base name). */
  certs: Record<string, CertState>;
  /**
   * The delivery journal of the targets delivered by the leader (or the single instance); absent in state files of
   * older versions and when no target was ever configured. @default {}
   */
  targets?: TargetJournalData;
}

/** A state with no history. */
export function emptyState(): WhisperState {
  return { budget: [], certs: {} };
}
