import { isWhisperError } from '../errors.js';
import type { Issuer } from '../acme/types.js';
import type { WhisperMetrics } from './metrics.js';

/**
 * The issuer, counting each order and timing it. An order aborted by shutdown is neither timed nor counted as a
 * failure: it says nothing about the CA or DNS.
 */
export function instrumentIssuer(issuer: Issuer, metrics: WhisperMetrics, now: () => number = Date.now): Issuer {
  return {
    ensureAccount: (signal) => issuer.ensureAccount(signal),
    async issue(cert, opts) {
      metrics.orderStarted();
      const started = now();
      try {
        const bundle = await issuer.issue(cert, opts);
        metrics.orderFinished(now() - started);
        return bundle;
      } catch (err) {
        if (!isWhisperError(err, 'ABORTED') && !opts?.signal?.aborted) metrics.orderFinished(now() - started, err);
        throw err;
      }
    },
    ...(issuer.directory ? { directory: () => issuer.directory!() } : {}),
  } satisfies Issuer;
}
