import https from 'node:https';
import { Client, axios as acmeAxios } from 'acme-client';
import { WhisperError } from '../errors.js';
import { answerError, asProblem } from './problems.js';
import type { AcmeClient, AcmeClientFactory, AcmeClientSpec } from './types.js';

/** Options of {@link createAcmeClientFactory}. */
export interface TransportOptions {
  /** PEM of extra CAs to trust for the ACME server's HTTPS (a private CA, Pebble). @default system CAs */
  caBundle?: string;
  /** Timeout of one HTTP request. @default 30000 */
  requestTimeoutMs?: number;
  /**
   * Retries of a request the CA refused with `badNonce` (each with the fresh nonce it sent): cheap, and the CA asks for
   * them; failing the order instead costs a job backoff. @default 10
   */
  badNonceRetries?: number;
  /** Clock, for `Retry-After` seconds. @default () => new Date() */
  now?: () => Date;
}

/**
 * What every client of one CA shares: its directory, and nonces from earlier answers. acme-client fetches the
 * directory once per client and a fresh nonce (a HEAD request) before every signed request; reusing them halves the
 * requests of an order (RFC 8555 section 7.2: any answer's `Replay-Nonce` may be used once).
 */
interface SharedCa {
  directory?: { data: Record<string, unknown>; at: number };
  nonces: Array<{ value: string; at: number }>;
}

/** The shared directory is read again after this long. */
const DIRECTORY_TTL_MS = 10 * 60_000;
/** Older nonces are dropped: a CA forgets them after a while, and each stale one costs a `badNonce` round trip. */
const NONCE_TTL_MS = 30_000;
/** Nonces kept per CA: more than the orders in flight ever use at once. */
const MAX_NONCES = 64;

interface RawAnswer {
  status: number;
  headers: Record<string, unknown>;
  data: unknown;
}

// The parts of acme-client 5.x's HttpClient (src/http.js) we hook. Not in its typings.
interface HttpInternals {
  maxBadNonceRetries: number;
  directoryCache: Record<string, unknown> | null;
  directoryTimestamp: number;
  request(url: string, method: string, opts?: Record<string, unknown>): Promise<RawAnswer>;
  signedRequest(url: string, payload: unknown, opts?: { nonce?: string | null } & Record<string, unknown>, attempts?: number): Promise<RawAnswer>;
  getDirectory(): Promise<Record<string, unknown>>;
}

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';
let builtinRetriesRemoved = false;

/**
 * Remove acme-client's axios interceptors (process-wide: its axios instance is shared). They retry
 * 429 and 5xx answers with real timers (sleeping for a whole `Retry-After`, and resending a spent
 * nonce: acme-client issue #103) and hide network errors behind a TypeError. Without them axios
 * resolves every HTTP answer and rejects only on transport errors; our hook maps both, and
 * retries belong to the issuance queue.
 */
export function removeAcmeClientRetries(): void {
  if (builtinRetriesRemoved) return;
  acmeAxios.interceptors.request.clear();
  acmeAxios.interceptors.response.clear();
  builtinRetriesRemoved = true;
}

function isBadNonce(answer: RawAnswer): boolean {
  return answer.status === 400 && asProblem(answer.data)?.type === BAD_NONCE;
}

function contentType(answer: RawAnswer): string {
  const value = answer.headers['content-type'];
  return typeof value === 'string' ? value.toLowerCase() : '';
}

/** A nonce of `ca` young enough to use, taken out of the pool; the newest first. */
function takeNonce(ca: SharedCa, now: number): string | undefined {
  for (let n = ca.nonces.pop(); n !== undefined; n = ca.nonces.pop()) {
    if (now - n.at < NONCE_TTL_MS) return n.value;
  }
  return undefined;
}

function keepNonce(ca: SharedCa, answer: RawAnswer, now: number): void {
  const value = answer.headers['replay-nonce'];
  if (typeof value !== 'string' || value === '') return;
  ca.nonces.push({ value, at: now });
  if (ca.nonces.length > MAX_NONCES) ca.nonces.shift();
}

function transportError(what: string, url: string, err: unknown, signal: AbortSignal | undefined): WhisperError {
  const code = (err as { code?: unknown } | null)?.code;
  if (signal?.aborted || code === 'ERR_CANCELED') {
    return new WhisperError('ABORTED', `${what}: request to the CA aborted`, { cause: err });
  }
  const reason = typeof code === 'string' ? code : (err as Error)?.message ?? String(err);
  return new WhisperError('ACME_ORDER', `${what}: cannot reach the CA at ${url}: ${reason}`, { retryable: true, cause: err });
}

/**
 * acme-client `Client`s whose HTTP layer is hooked: every answer of status 400 or more becomes a
 * mapped {@link WhisperError} (see `answerError`) carrying the status, problem and `Retry-After`;
 * a 2xx answer that is not JSON (an HTML page) where JSON was expected is `ACME_BAD_RESPONSE`;
 * `badNonce` is retried a few times; requests honour the spec's AbortSignal and a timeout.
 */
export function createAcmeClientFactory(options: TransportOptions = {}): AcmeClientFactory {
  removeAcmeClientRetries();
  const agent = options.caBundle === undefined ? undefined : new https.Agent({ ca: options.caBundle, keepAlive: true });
  const timeout = options.requestTimeoutMs ?? 30_000;
  const badNonceRetries = options.badNonceRetries ?? 10;
  const now = options.now ?? (() => new Date());
  const cas = new Map<string, SharedCa>();

  return (spec: AcmeClientSpec): AcmeClient => {
    const client = new Client({
      directoryUrl: spec.directoryUrl,
      accountKey: spec.accountKey,
      ...(spec.accountUrl === undefined ? {} : { accountUrl: spec.accountUrl }),
      ...(spec.eab === undefined ? {} : { externalAccountBinding: { kid: spec.eab.kid, hmacKey: spec.eab.hmacKey } }),
      // Only getCertificate() on a non-valid order would use its retry loop; we never call it so.
      backoffAttempts: 1,
    });
    const http = (client as unknown as { http?: HttpInternals }).http;
    if (typeof http?.request !== 'function' || typeof http.signedRequest !== 'function') {
      throw new WhisperError('INTERNAL', 'acme-client internals changed: cannot hook its HTTP client');
    }
    const { what, signal } = spec;
    http.maxBadNonceRetries = badNonceRetries;
    const request = http.request.bind(http);
    const signedRequest = http.signedRequest.bind(http);
    const getDirectory = http.getDirectory.bind(http);
    let ca = cas.get(spec.directoryUrl);
    if (ca === undefined) cas.set(spec.directoryUrl, (ca = { nonces: [] }));
    const shared = ca;

    http.request = async (url, method, opts = {}) => {
      if (signal?.aborted) throw transportError(what, url, signal.reason, signal);
      const sent = { ...opts, timeout, ...(signal ? { signal } : {}), ...(agent ? { httpsAgent: agent } : {}) };
      let answer: RawAnswer;
      try {
        answer = await request(url, method, sent);
      } catch (err) {
        throw transportError(what, url, err, signal);
      }
      // signedRequest retries badNonce itself with the fresh nonce of the answer; HEAD is newNonce, used at once.
      const badNonce = isBadNonce(answer);
      if (!badNonce && method.toLowerCase() !== 'head') keepNonce(shared, answer, now().getTime());
      if (answer.status >= 400 && !badNonce) throw answerError(what, url, answer, now());
      const pem = contentType(answer).includes('pem-certificate-chain');
      // An empty 200 is an answer without a body (revoke-cert and key-change: the status is the CA's yes).
      if (method.toLowerCase() !== 'head' && typeof answer.data === 'string' && answer.data !== '' && !pem) {
        throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA answered HTTP ${answer.status} with a body that is not JSON at ${url}`);
      }
      return answer;
    };
    http.signedRequest = async (url, payload, opts, attempts) => {
      const nonce = opts?.nonce ?? takeNonce(shared, now().getTime());
      const answer = await signedRequest(url, payload, { ...opts, nonce: nonce ?? null }, attempts);
      if (isBadNonce(answer)) throw answerError(what, url, answer, now());
      return answer;
    };
    http.getDirectory = async () => {
      const cached = shared.directory;
      if (http.directoryCache === null && cached !== undefined && now().getTime() - cached.at < DIRECTORY_TTL_MS) {
        http.directoryCache = cached.data;
        // acme-client ages its cache with its own clock (Date.now, seconds); our TTL above already decided.
        http.directoryTimestamp = Math.floor(Date.now() / 1000);
      }
      const data = await getDirectory();
      if (shared.directory?.data !== data) shared.directory = { data, at: now().getTime() };
      return data;
    };

    return Object.assign(client, { directory: () => http.getDirectory() });
  };
}
