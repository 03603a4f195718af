/**
 * Stable error codes. Logs, metrics and tests match on these, never on messages.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'TAG_INVALID'
  | 'HOSTNAME_INVALID'
  | 'DOMAIN_NOT_ALLOWED'
  | 'TOO_MANY_NAMES'
  | 'CONSUL_UNAVAILABLE'
  | 'CONSUL_ERROR'
  | 'ACME_ACCOUNT'
  | 'ACME_ORDER'
  | 'ACME_RATE_LIMITED'
  | 'RATE_LIMIT_DEFERRED'
  | 'ACME_BAD_RESPONSE'
  | 'DNS_ZONE_NOT_FOUND'
  | 'DNS_PROVIDER'
  | 'DNS_PROPAGATION_TIMEOUT'
  | 'HTTP01'
  | 'STORE_WRITE'
  | 'STORE_READ'
  | 'STORE_CORRUPT'
  | 'KV_DECRYPT'
  | 'TARGET_CONFIG'
  | 'TARGET_HAPROXY'
  | 'TARGET_AWS'
  | 'TARGET_SFTP'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'FOLDER_LOCKED'
  | 'HISTORY'
  | 'ABORTED'
  | 'INTERNAL';

/** Options of a {@link WhisperError}. */
export interface WhisperErrorOptions {
  /** Whether trying the same thing again later may succeed. @default false */
  retryable?: boolean;
  /** The underlying error. */
  cause?: unknown;
  /** Earliest moment a retry makes sense (from a `Retry-After` answer). */
  retryAfter?: Date;
  /** The ACME identifier (DNS name) the failure is about: set when an authorization failed. */
  identifier?: string;
  /** The `replaces` (ARI certID) of a new-order the CA refused: the refusal may be about it. */
  refusedReplaces?: string;
}

/** The one error type of whisper-ts: a stable `code`, whether it is `retryable`, and its `cause`. */
export class WhisperError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfter: Date | undefined;
  /** The ACME identifier whose authorization failed, when that is what failed (the budget charges it alone). */
  readonly identifier: string | undefined;
  /** Set when a new-order carrying this `replaces` got a CA problem: ordering again without it may succeed. */
  readonly refusedReplaces: string | undefined;

  constructor(code: ErrorCode, message: string, options: WhisperErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WhisperError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfter = options.retryAfter;
    this.identifier = options.identifier;
    this.refusedReplaces = options.refusedReplaces;
  }
}

/** True when `err` is a {@link WhisperError}, optionally with the given code. */
export function isWhisperError(err: unknown, code?: ErrorCode): err is WhisperError {
  return err instanceof WhisperError && (code === undefined || err.code === code);
}

/** A short message for any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
