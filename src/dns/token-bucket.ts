import { abortableSleep, type Sleep } from '../time.js';
import { WhisperError } from '../errors.js';

/** The state of a {@link TokenBucket}: tokens below zero are reservations of callers still waiting. */
export interface BucketState {
  readonly tokens: number;
  /** When `tokens` was computed, in ms. */
  readonly at: number;
}

/** The limits of a {@link TokenBucket}. */
export interface BucketLimits {
  /** Tokens added per second. */
  readonly ratePerSecond: number;
  /** Most tokens held at once. */
  readonly burst: number;
}

/**
 * Takes one token at `now`: the new state and how long the caller waits before its token exists. Pure.
 * A token is reserved even when it is not there yet, so callers are served in order and each waits
 * one interval (1000 / rate ms) after the one before it.
 */
export function reserveToken(state: BucketState, now: number, limits: BucketLimits): { state: BucketState; waitMs: number } {
  const refilled = Math.min(limits.burst, state.tokens + (Math.max(0, now - state.at) * limits.ratePerSecond) / 1000);
  const tokens = refilled - 1;
  const waitMs = tokens >= 0 ? 0 : (-tokens * 1000) / limits.ratePerSecond;
  return { state: { tokens, at: Math.max(now, state.at) }, waitMs };
}

/** Options of {@link createTokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second: the long-run rate of calls. */
  ratePerSecond: number;
  /**
   * Most tokens held at once. 1 spaces calls evenly, 1000 / rate ms apart, so no 1-second window ever holds
   * more than `ratePerSecond` calls; more lets that many go at once after a quiet time. @default 1
   */
  burst?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
  /** @default an abortable timer */
  sleep?: Sleep;
}

/** A client-side rate limit: every call takes a token first. */
export interface TokenBucket {
  /**
   * Waits until a token is there and takes it; `ABORTED` when `signal` aborts first. An aborted wait keeps its
   * reservation (its slot goes unused): handing it back would let a later caller share another's slot.
   */
  take(signal?: AbortSignal): Promise<void>;
}

/** A {@link TokenBucket}, full at first. */
export function createTokenBucket(options: TokenBucketOptions): TokenBucket {
  const { ratePerSecond } = options;
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
    throw new WhisperError('CONFIG_INVALID', `token bucket rate must be a positive number (got ${ratePerSecond})`);
  }
  const limits: BucketLimits = { ratePerSecond, burst: Math.max(1, options.burst ?? 1) };
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  let state: BucketState = { tokens: limits.burst, at: now() };
  return {
    async take(signal) {
      if (signal?.aborted) throw new WhisperError('ABORTED', 'rate limit wait: aborted');
      const r = reserveToken(state, now(), limits);
      state = r.state;
      if (r.waitMs > 0) await sleep(r.waitMs, signal);
    },
  };
}
