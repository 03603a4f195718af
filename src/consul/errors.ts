import { WhisperError, errorMessage } from '../errors.js';

/** The fields of papi's (node-consul's HTTP layer) errors we read. */
interface PapiErrorLike {
  isAbort?: boolean;
  isTimeout?: boolean;
  isCodec?: boolean;
  isResponse?: boolean;
  statusCode?: number;
  code?: string;
}

/** papi prefixes messages with `consul: <request name>: `; the endpoint we name says that better. */
function bareMessage(err: unknown): string {
  return errorMessage(err).replace(/^consul: [\w.]+: /, '');
}

/**
 * Turns whatever a node-consul call threw into a {@link WhisperError}:
 * `ABORTED` when `signal` aborted it; `CONSUL_UNAVAILABLE` (retryable) for network errors, timeouts, 429 and 5xx;
 * `CONSUL_ERROR` for 403 (an ACL token without the permission) and other 4xx.
 * @param endpoint the request, e.g. `GET /v1/catalog/services`, named in the message.
 * @param where Consul's `host:port`, named in the message.
 */
export function toConsulError(err: unknown, endpoint: string, where: string, signal?: AbortSignal): WhisperError {
  if (err instanceof WhisperError) return err;
  if (signal?.aborted) return new WhisperError('ABORTED', `${endpoint} aborted`, { cause: err });
  const e = (typeof err === 'object' && err !== null ? err : {}) as PapiErrorLike;
  const detail = bareMessage(err);
  if (e.isResponse && typeof e.statusCode === 'number') {
    const status = e.statusCode;
    if (status === 403) {
      return new WhisperError(
        'CONSUL_ERROR',
        `Consul at ${where} refused ${endpoint} (403 ${detail}): the ACL token lacks permission for it (or is unknown)`,
        { cause: err },
      );
    }
    if (status === 429 || status >= 500) {
      return new WhisperError('CONSUL_UNAVAILABLE', `Consul at ${where} answered ${status} to ${endpoint}: ${detail}`, {
        retryable: true,
        cause: err,
      });
    }
    return new WhisperError('CONSUL_ERROR', `Consul at ${where} rejected ${endpoint} (${status}): ${detail}`, { cause: err });
  }
  if (e.isTimeout) {
    return new WhisperError('CONSUL_UNAVAILABLE', `Consul at ${where} did not answer ${endpoint} in time: ${detail}`, {
      retryable: true,
      cause: err,
    });
  }
  if (e.isCodec) {
    return new WhisperError('CONSUL_ERROR', `Consul at ${where} sent an unreadable answer to ${endpoint}: ${detail}`, {
      retryable: true,
      cause: err,
    });
  }
  return new WhisperError('CONSUL_UNAVAILABLE', `Consul at ${where} unreachable for ${endpoint}: ${detail}`, {
    retryable: true,
    cause: err,
  });
}
