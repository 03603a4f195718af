import { backoffDelay, type Sleep } from '../time.js';
import { isRetryableRoute53Error, isThrottlingError, type Route53Api } from './route53-api.js';
import { createTokenBucket, type TokenBucket } from './token-bucket.js';

/**
 * Room left below the configured rate, as a share of it. Route53 counts requests as they arrive: one held up on its
 * way (a busy event loop, the network) arrives closer to the ones after it, and calls spaced at exactly n per second
 * would then put n + 1 into one of its seconds. 10 % is 100 ms of such delay per second: 5 % (50 ms) was measured
 * too little on a loaded two-core host, where one call of five arrived 63 ms late relative to the fifth after it.
 */
export const ARRIVAL_MARGIN = 0.1;

/**
 * The token bucket of Route53 calls: at most `requestsPerSecond` in any second as Route53 sees them, calls spaced
 * evenly (burst 1: after a quiet time, calls do not go out together), {@link ARRIVAL_MARGIN} below the rate.
 */
export function route53Bucket(requestsPerSecond: number, now: () => number, sleep: Sleep): TokenBucket {
  return createTokenBucket({ ratePerSecond: requestsPerSecond / (1 + ARRIVAL_MARGIN), burst: 1, now, sleep });
}

/** What a retry is about to do, for a log line. */
export interface Route53Retry {
  /** The operation, e.g. `getChange`. */
  readonly op: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/** Options of {@link throttleRoute53}. */
export interface ThrottleOptions {
  /** Every attempt of every call takes a token of it first (retries included). */
  bucket: TokenBucket;
  sleep: Sleep;
  /** Attempts per call, the first included. @default 6 */
  maxAttempts?: number;
  /** @default Math.random */
  random?: () => number;
  /** Told before each retry. */
  onRetry?: (retry: Route53Retry) => void;
}

/**
 * Delay before retrying after `attempt` failed with `err`. Pure. Throttling starts at 500 ms (the SDK's throttling
 * base: the account's budget needs time to refill), other transient failures at 100 ms; doubling, at most 20 s,
 * ±50 % jitter so that the callers refused together do not come back together.
 */
export function retryDelayMs(err: unknown, attempt: number, random: () => number = Math.random): number {
  const baseMs = isThrottlingError(err) ? 500 : 100;
  return backoffDelay(attempt, { baseMs, maxMs: 20_000, factor: 2, jitter: 0.5, random });
}

/**
 * Wraps a {@link Route53Api} so that every request takes a token of the bucket, and throttling and transient failures
 * (see {@link isRetryableRoute53Error}) are tried again with backoff, each attempt through the bucket again. The SDK
 * client beneath must not retry itself (`maxAttempts: 1`): its retries would bypass the bucket and multiply calls.
 * The last failure is thrown as it came; an abort stops waiting at once.
 */
export function throttleRoute53(api: Route53Api, options: ThrottleOptions): Route53Api {
  const { bucket, sleep } = options;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 6);
  const random = options.random ?? Math.random;

  async function call<I, O>(
    op: string,
    fn: (input: I, signal?: AbortSignal) => Promise<O>,
    input: I,
    signal?: AbortSignal,
  ): Promise<O> {
    // Before the token: the first request of a client would otherwise spend part of its slot loading credentials.
    try {
      await api.prepare?.();
    } catch {
      // The request itself fails the same way, and reports it.
    }
    for (let attempt = 1; ; attempt++) {
      await bucket.take(signal);
      try {
        return await fn(input, signal);
      } catch (err) {
        if (attempt >= maxAttempts || signal?.aborted || !isRetryableRoute53Error(err)) throw err;
        const delayMs = retryDelayMs(err, attempt, random);
        options.onRetry?.({ op, attempt, delayMs, error: err });
        await sleep(delayMs, signal);
      }
    }
  }

  const wrapped: Route53Api = {
    listHostedZonesByName: (input, signal) => call('listHostedZonesByName', (i, s) => api.listHostedZonesByName(i, s), input, signal),
    listHostedZones: (input, signal) => call('listHostedZones', (i, s) => api.listHostedZones(i, s), input, signal),
    listResourceRecordSets: (input, signal) =>
      call('listResourceRecordSets', (i, s) => api.listResourceRecordSets(i, s), input, signal),
    changeResourceRecordSets: (input, signal) =>
      call('changeResourceRecordSets', (i, s) => api.changeResourceRecordSets(i, s), input, signal),
    getChange: (input, signal) => call('getChange', (i, s) => api.getChange(i, s), input, signal),
  };
  if (api.prepare) wrapped.prepare = () => api.prepare?.() ?? Promise.resolve();
  if (api.destroy) wrapped.destroy = () => api.destroy?.();
  return wrapped;
}
