import { isNetworkError, type SdkErrorShape } from '../aws/sdk-error.js';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type ChangeResourceRecordSetsCommandInput,
  type ChangeResourceRecordSetsCommandOutput,
  type GetChangeCommandInput,
  type GetChangeCommandOutput,
  type ListHostedZonesByNameCommandInput,
  type ListHostedZonesByNameCommandOutput,
  type ListHostedZonesCommandInput,
  type ListHostedZonesCommandOutput,
  type ListResourceRecordSetsCommandInput,
  type ListResourceRecordSetsCommandOutput,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { WhisperError } from '../errors.js';

/**
 * The Route53 calls whisper-ts makes, one client (one credentials profile). The I/O edge that
 * unit tests replace with a fake; {@link wrapRoute53Client} adapts the SDK client.
 */
export interface Route53Api {
  /** Only used when ListHostedZones is denied (policies written for lego grant ListHostedZonesByName alone). */
  listHostedZonesByName(
    input: ListHostedZonesByNameCommandInput,
    signal?: AbortSignal,
  ): Promise<ListHostedZonesByNameCommandOutput>;
  listResourceRecordSets(
    input: ListResourceRecordSetsCommandInput,
    signal?: AbortSignal,
  ): Promise<ListResourceRecordSetsCommandOutput>;
  changeResourceRecordSets(
    input: ChangeResourceRecordSetsCommandInput,
    signal?: AbortSignal,
  ): Promise<ChangeResourceRecordSetsCommandOutput>;
  getChange(input: GetChangeCommandInput, signal?: AbortSignal): Promise<GetChangeCommandOutput>;
  /** The account's zones, a page at a time: one listing answers the zone lookups of a whole burst. */
  listHostedZones(input: ListHostedZonesCommandInput, signal?: AbortSignal): Promise<ListHostedZonesCommandOutput>;
  /**
   * Loads what the first request would load on its way (the credentials, from files or the instance), so that a
   * request leaves the moment it has its token of the rate limit. Optional.
   */
  prepare?(): Promise<void>;
  /** Closes the client's sockets. Optional. */
  destroy?(): void;
}

/** Adapts an SDK {@link Route53Client} to {@link Route53Api}. */
export function wrapRoute53Client(client: Route53Client): Route53Api {
  const opts = (signal?: AbortSignal) => (signal ? { abortSignal: signal } : {});
  return {
    listHostedZonesByName: (input, signal) => client.send(new ListHostedZonesByNameCommand(input), opts(signal)),
    listResourceRecordSets: (input, signal) => client.send(new ListResourceRecordSetsCommand(input), opts(signal)),
    changeResourceRecordSets: (input, signal) =>
      client.send(new ChangeResourceRecordSetsCommand(input), opts(signal)),
    getChange: (input, signal) => client.send(new GetChangeCommand(input), opts(signal)),
    listHostedZones: (input, signal) => client.send(new ListHostedZonesCommand(input), opts(signal)),
    // The SDK memoizes the credentials it resolves: the signer then finds them at once.
    prepare: async () => {
      await client.config.credentials();
    },
    destroy: () => client.destroy(),
  } satisfies Route53Api;
}

/** A Route53 name (`_acme-challenge.example.com.`, `\052.example.com.`) as whisper-ts writes names. */
export function fromRoute53Name(name: string): string {
  const decoded = name.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  return decoded.toLowerCase().replace(/\.$/, '');
}

// Route53 (and the SDK's list) name these when the account's request rate or a busy zone refuses a call.
const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);
// What else may work when tried again later: server faults, network (the SDK's transient list).
const RETRYABLE_NAMES = new Set([
  'RequestTimeout',
  'TimeoutError',
  'ServiceUnavailable',
  'InternalFailure',
]);

/** Whether an error (an SDK error, or a {@link WhisperError} caused by one) is an IAM refusal. */
export function isAccessDenied(err: unknown): boolean {
  const inner = err instanceof WhisperError ? err.cause : err;
  const name = typeof inner === 'object' && inner !== null ? (inner as SdkErrorShape).name : undefined;
  return name === 'AccessDenied' || name === 'AccessDeniedException';
}

/**
 * Whether a Route53 SDK error says "too many requests": `Throttling`, `PriorRequestNotComplete` and the like,
 * HTTP 429, or an HTTP 400 "Rate exceeded" whose body the SDK could not name.
 */
export function isThrottlingError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as SdkErrorShape;
  if (typeof e.name === 'string' && THROTTLING_NAMES.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status === 429) return true;
  return status === 400 && typeof e.message === 'string' && /rate exceeded/i.test(e.message);
}

/** Whether a Route53 SDK error may succeed when tried again later. */
export function isRetryableRoute53Error(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (isThrottlingError(err)) return true;
  const e = err as SdkErrorShape;
  if (typeof e.name === 'string' && RETRYABLE_NAMES.has(e.name)) return true;
  if (isNetworkError(err)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500) return true;
  return e.$fault === 'server';
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[redacted]');
  return out;
}

/**
 * Turns an error of a Route53 call into a {@link WhisperError}: `ABORTED` for an abort, else
 * `DNS_PROVIDER`, retryable per {@link isRetryableRoute53Error}. `what` names the call and the zone or
 * record; the TXT values in `secrets` are removed from the message and from the attached cause, since
 * Route53 echoes record data in some messages (InvalidChangeBatch).
 */
export function route53Error(err: unknown, what: string, secrets: readonly string[] = []): WhisperError {
  if (err instanceof WhisperError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  if (name === 'AbortError') return new WhisperError('ABORTED', `${what}: aborted`, { cause: err });
  const raw = typeof e.message === 'string' ? e.message : String(err);
  const message = scrub(raw, secrets);
  let cause = err;
  if (message !== raw) {
    const clean = new Error(message);
    clean.name = name;
    cause = Object.assign(clean, { $metadata: e.$metadata, $fault: e.$fault });
  }
  // Not retryable: no profile named after the domain and nothing in the default chain is a setup problem.
  const hint =
    name === 'CredentialsProviderError'
      ? ' (no AWS credentials: add a profile named after the domain or set up the default chain)'
      : '';
  return new WhisperError('DNS_PROVIDER', `${what}: ${name}: ${message}${hint}`, {
    retryable: isRetryableRoute53Error(err),
    cause,
  });
}
