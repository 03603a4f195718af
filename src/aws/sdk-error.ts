/** What whisper-ts reads of an AWS SDK v3 error (any client). */
export interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** `err` as an SDK error's fields, `{}` for anything that is not an object. */
export function sdkShape(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {};
}

/** Node network error codes an SDK call fails with when the endpoint cannot be reached: worth trying again. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Whether an SDK call failed on the network (reset, refused, timed out, name not resolved). */
export function isNetworkError(err: unknown): boolean {
  const code = sdkShape(err).code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}
