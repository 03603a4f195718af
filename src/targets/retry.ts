import { isWhisperError } from '../errors.js';
import { backoffDelay } from '../time.js';

/** Backoff of failed deliveries. */
export interface DeliveryRetry {
  /** First delay. @default 30000 */
  readonly baseMs?: number;
  /** Longest delay; also the delay of a failure that retrying cannot help (`retryable: false`). @default 3600000 */
  readonly maxMs?: number;
  /** Jitter source. @default Math.random */
  readonly random?: () => number;
}

/**
 * Delay before retry number `attempt` (1-based) of a delivery that failed with `err` at `now`: exponential with
 * jitter from `baseMs` up to `maxMs`; the longest delay for a failure that is not `retryable` (a refused credential
 * may be fixed by hand: it is still tried, rarely); never before the destination's `retryAfter`.
 */
export function retryDelay(err: unknown, attempt: number, now: number, retry: DeliveryRetry = {}): number {
  const baseMs = retry.baseMs ?? 30_000;
  const maxMs = retry.maxMs ?? 3_600_000;
  const retryable = isWhisperError(err) ? err.retryable : true;
  const delay = retryable ? backoffDelay(attempt, { baseMs, maxMs, ...(retry.random ? { random: retry.random } : {}) }) : maxMs;
  const after = isWhisperError(err) && err.retryAfter ? err.retryAfter.getTime() - now : 0;
  return Math.max(delay, after);
}
