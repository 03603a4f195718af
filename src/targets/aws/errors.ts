import { isNetworkError, sdkShape } from '../../aws/sdk-error.js';
import { WhisperError } from '../../errors.js';

// What the AWS APIs answer when a caller is too fast.
const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
]);
// What else may work when tried again later: server faults, timeouts, a changed CloudFront ETag.
const RETRYABLE_NAMES = new Set([
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'InternalServiceError',
  'PreconditionFailed',
]);

/** The AWS error name of an SDK error (`ThrottlingException`, `NoSuchEntity`), `''` for anything else. */
export function awsErrorName(err: unknown): string {
  const inner = err instanceof WhisperError ? err.cause : err;
  const name = sdkShape(inner).name;
  return typeof name === 'string' ? name : '';
}

/** Whether an SDK error may succeed when tried again later: throttling, HTTP 429 and 5xx, network, timeouts. */
export function isRetryableAwsError(err: unknown): boolean {
  const e = sdkShape(err);
  const name = typeof e.name === 'string' ? e.name : '';
  if (THROTTLING_NAMES.has(name) || RETRYABLE_NAMES.has(name)) return true;
  if (isNetworkError(err)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status === 429 || (typeof status === 'number' && status >= 500)) return true;
  if (status === 400 && typeof e.message === 'string' && /rate exceeded/i.test(e.message)) return true;
  return e.$fault === 'server';
}

const PEM_BLOCK = /-----BEGIN [^-]+-----[\s\S]*?(-----END [^-]+-----|$)/g;

/** Removes PEM blocks (keys, certificates) from a text an AWS API sent back, so that no key reaches a log. */
export function scrubPem(text: string): string {
  return text.replace(PEM_BLOCK, '[pem]');
}

/**
 * Turns an error of an AWS call into a {@link WhisperError}: `ABORTED` for an abort, else `TARGET_AWS`, retryable
 * per {@link isRetryableAwsError}. `what` names the call, the destination and the certificate; PEM blocks are
 * removed from the message and from the attached cause.
 */
export function awsError(err: unknown, what: string): WhisperError {
  if (err instanceof WhisperError) return err;
  const e = sdkShape(err);
  const name = typeof e.name === 'string' ? e.name : 'Error';
  if (name === 'AbortError') return new WhisperError('ABORTED', `${what}: aborted`, { cause: err });
  const raw = typeof e.message === 'string' ? e.message : String(err);
  const message = scrubPem(raw);
  let cause = err;
  if (message !== raw) {
    const clean = new Error(message);
    clean.name = name;
    cause = Object.assign(clean, { $metadata: e.$metadata, $fault: e.$fault });
  }
  const hint = name === 'CredentialsProviderError' ? ' (no AWS credentials in the default chain)' : '';
  return new WhisperError('TARGET_AWS', `${what}: ${name}: ${message}${hint}`, {
    retryable: isRetryableAwsError(err),
    cause,
  });
}

/** Runs one AWS call, turning its failure into {@link awsError}. */
export async function awsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw awsError(err, what);
  }
}
