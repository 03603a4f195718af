import { errorMessage, isWhisperError, type ErrorCode } from '../errors.js';
import { backoffDelay, type BackoffOptions } from '../time.js';

/** The queue's retry schedule unless configured otherwise: 30 s, 1 min, 2 min, … up to an hour, ±20 %. */
export const DEFAULT_RETRY = {
  baseMs: 30_000,
  maxMs: 3_600_000,
  factor: 2,
  jitter: 0.2,
} as const satisfies BackoffOptions;

const RATE_LIMITS: ReadonlySet<ErrorCode> = new Set(['ACME_RATE_LIMITED', 'RATE_LIMIT_DEFERRED']);

/** What to do after a failed attempt. */
export interface RetryDecision {
  /** The error's code; `INTERNAL` for anything that is not a WhisperError. */
  readonly code: ErrorCode;
  /** The error's message, safe to log. */
  readonly message: string;
  /** False when the error said retrying cannot help (the queue retries anyway, at the maximum delay). */
  readonly retryable: boolean;
  /** When the next attempt may start (epoch ms). */
  readonly at: number;
  /** `at - now`. */
  readonly delayMs: number;
  /** The error's `retryAfter` (epoch ms), when it had one: no attempt, even with new names, starts earlier. */
  readonly notBefore?: number;
}

/**
 * Schedules the retry after failed attempt number `attempt` (1-based): exponential backoff; the maximum delay for a
 * WhisperError that is not retryable (the operator may fix DNS or config meanwhile); never before its `retryAfter`,
 * and exactly at it for a rate limit (the CA's 429, or our own budget).
 * Errors that are not WhisperErrors get the normal backoff: they are usually transient library or network errors.
 */
export function decideRetry(err: unknown, attempt: number, now: number, retry: BackoffOptions = {}): RetryDecision {
  const options = { ...DEFAULT_RETRY, ...retry };
  const whisper = isWhisperError(err) ? err : undefined;
  const retryable = whisper ? whisper.retryable : true;
  let at = now + (retryable ? backoffDelay(attempt, options) : options.maxMs);
  const after = whisper?.retryAfter?.getTime();
  const notBefore = after !== undefined && Number.isFinite(after) ? after : undefined;
  // A rate limit names the moment its slot opens: retry then, not after an unrelated growing backoff.
  if (notBefore !== undefined && (notBefore > at || RATE_LIMITS.has(whisper!.code))) at = Math.max(notBefore, now);
  const code = whisper?.code ?? 'INTERNAL';
  return { code, message: errorMessage(err), retryable, at, delayMs: at - now, ...(notBefore === undefined ? {} : { notBefore }) };
}
