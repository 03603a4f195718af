/**
 * ACME Renewal Information (RFC 9773): the certificate identifier, the `renewalInfo` request and the choice
 * of a moment in the CA's suggested window. acme-client 5.4 has none of it.
 */
import { WhisperError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// certID: base64url(AKI keyIdentifier) "." base64url(serial INTEGER content octets)
// ---------------------------------------------------------------------------------------------

interface Tlv {
  readonly tag: number;
  /** Offset of the contents. */
  readonly start: number;
  /** Offset just past the contents (the next element). */
  readonly end: number;
}

function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error(`truncated DER at offset ${at}`);
  const tag = der[at] ?? 0;
  // High-tag-number form never occurs in a certificate.
  if ((tag & 0x1f) === 0x1f) throw new Error(`unsupported DER tag at offset ${at}`);
  let length = der[at + 1] ?? 0;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) throw new Error(`bad DER length at offset ${at}`);
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + (der[start + i] ?? 0);
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new Error(`DER element at offset ${at} overruns its container`);
  return { tag, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

// 2.5.29.35, id-ce-authorityKeyIdentifier, as DER OID content octets.
const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]);
const TAG_INTEGER = 0x02;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
const TAG_EXTENSIONS = 0xa3; // [3] EXPLICIT in TBSCertificate
const TAG_KEY_IDENTIFIER = 0x80; // [0] IMPLICIT in AuthorityKeyIdentifier

function pemToDer(certPem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(certPem);
  if (!match) throw new Error('no PEM certificate found');
  return Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64');
}

function parseCertId(der: Buffer): { keyId: Buffer; serial: Buffer } {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== TAG_SEQUENCE) throw new Error('not a DER certificate');
  const tbs = children(der, cert)[0];
  if (tbs?.tag !== TAG_SEQUENCE) throw new Error('no TBSCertificate');
  const fields = children(der, tbs);
  // The version is an optional [0] EXPLICIT field; the serial number is the first INTEGER.
  const serial = fields[0]?.tag === TAG_INTEGER ? fields[0] : fields[1];
  if (serial?.tag !== TAG_INTEGER || serial.end === serial.start) throw new Error('no serial number');
  const extensions = fields.find((f) => f.tag === TAG_EXTENSIONS);
  const list = extensions ? children(der, extensions)[0] : undefined;
  for (const ext of list ? children(der, list) : []) {
    const [oid, ...rest] = children(der, ext);
    if (oid?.tag !== TAG_OID || !der.subarray(oid.start, oid.end).equals(AKI_OID)) continue;
    const value = rest.find((r) => r.tag === TAG_OCTET_STRING);
    const aki = value ? readTlv(der, value.start, value.end) : undefined;
    const keyId = aki?.tag === TAG_SEQUENCE ? children(der, aki).find((c) => c.tag === TAG_KEY_IDENTIFIER) : undefined;
    if (!keyId || keyId.end === keyId.start) throw new Error('the Authority Key Identifier has no keyIdentifier');
    return { keyId: der.subarray(keyId.start, keyId.end), serial: der.subarray(serial.start, serial.end) };
  }
  throw new Error('no Authority Key Identifier extension');
}

/**
 * The ARI certificate identifier of a PEM certificate (RFC 9773 §4.1): base64url of the Authority Key
 * Identifier's keyIdentifier, ".", base64url of the serial number's DER content octets (with the leading
 * 0x00 a positive serial with its high bit set carries). The `renewalInfo` path and an order's `replaces`.
 * Throws `ACME_BAD_RESPONSE` when the PEM is not a certificate or has no AKI keyIdentifier (ARI cannot name it).
 */
export function ariCertId(certPem: string): string {
  try {
    const { keyId, serial } = parseCertId(pemToDer(certPem));
    return `${keyId.toString('base64url')}.${serial.toString('base64url')}`;
  } catch (err) {
    throw new WhisperError('ACME_BAD_RESPONSE', `cannot compute the ARI certificate identifier: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// GET <renewalInfo>/<certID>
// ---------------------------------------------------------------------------------------------

/** The subset of a `fetch` answer ARI reads; the global `Response` fits. */
export interface AriResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The subset of `fetch` ARI calls; the global `fetch` and {@link createCaFetch}'s result fit. */
export type AriFetch = (url: string, init?: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<AriResponse>;

/** A suggested renewal window. */
export interface RenewalWindow {
  readonly start: Date;
  readonly end: Date;
}

/** What the CA said about one certificate. */
export interface RenewalInfo extends RenewalWindow {
  /** A page explaining an unusual window (a revocation, an incident): worth logging. */
  readonly explanationUrl?: string;
  /** When to ask again (from `Retry-After`, clamped to [1 min, 24 h] from now). */
  readonly retryAfter: Date;
}

/** Options of {@link fetchRenewalInfo}. */
export interface FetchRenewalInfoOptions {
  /** HTTP client that trusts the CA's certificate. @default globalThis.fetch */
  fetch?: AriFetch;
  /** Cancels the request (`ABORTED`). */
  signal?: AbortSignal;
  /** Clock (milliseconds since the epoch). */
  now: () => number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Re-poll interval when the CA gives no usable `Retry-After`. */
export const ARI_DEFAULT_RETRY_MS = 6 * HOUR;
/** Bounds of the re-poll interval: not hammering the CA, and not missing a changed window for days. */
export const ARI_MIN_RETRY_MS = MINUTE;
export const ARI_MAX_RETRY_MS = 24 * HOUR;

/**
 * The moment to poll `renewalInfo` again: a `Retry-After` value (delta-seconds or an HTTP date) resolved
 * against `now`; absent or unparsable → now + 6 h; always clamped to [now + 1 min, now + 24 h].
 */
export function ariRetryAfter(header: string | null | undefined, now: number): Date {
  let delay = ARI_DEFAULT_RETRY_MS;
  const value = header?.trim() ?? '';
  if (/^\d+$/.test(value)) {
    delay = Number(value) * 1000;
  } else if (/[a-z]/i.test(value)) {
    // HTTP dates always name the month; Date.parse alone would read "-5" as a year.
    const at = Date.parse(value);
    if (Number.isFinite(at)) delay = at - now;
  }
  return new Date(now + Math.min(ARI_MAX_RETRY_MS, Math.max(ARI_MIN_RETRY_MS, delay)));
}

function parseWindow(body: string, what: string): { start: Date; end: Date; explanationUrl?: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the answer is not JSON`, { retryable: true, cause: err });
  }
  const window = (json as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  const start = typeof window?.start === 'string' ? new Date(window.start) : undefined;
  const end = typeof window?.end === 'string' ? new Date(window.end) : undefined;
  if (!start || !end || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: no valid suggestedWindow`, { retryable: true });
  }
  if (end.getTime() <= start.getTime()) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the suggested window ends before it starts`, { retryable: true });
  }
  const explanation = (json as { explanationURL?: unknown }).explanationURL;
  return typeof explanation === 'string' ? { start, end, explanationUrl: explanation } : { start, end };
}

/**
 * Ask the CA for the renewal window of a certificate (`GET <renewalInfoUrl>/<certId>`, unauthenticated).
 * Errors: `ABORTED`; `ACME_ORDER` (retryable) when the CA cannot be reached; `ACME_RATE_LIMITED` on 429 and
 * `ACME_BAD_RESPONSE` on any other non-200 status (retryable for 5xx; 404 means the CA does not know the
 * certificate), on invalid JSON, and on a window whose end is not after its start. Errors carry `retryAfter`.
 */
export async function fetchRenewalInfo(renewalInfoUrl: string, certId: string, opts: FetchRenewalInfoOptions): Promise<RenewalInfo> {
  const doFetch: AriFetch = opts.fetch ?? globalThis.fetch;
  const url = `${renewalInfoUrl.replace(/\/+$/, '')}/${certId}`;
  const what = `renewal information for ${certId}`;
  let response: AriResponse;
  let body: string;
  try {
    response = await doFetch(url, { ...(opts.signal ? { signal: opts.signal } : {}), headers: { accept: 'application/json' } });
    body = await response.text();
  } catch (err) {
    if (opts.signal?.aborted) throw new WhisperError('ABORTED', `${what}: request aborted`, { cause: err });
    throw new WhisperError('ACME_ORDER', `${what}: cannot reach the CA at ${url}: ${(err as Error).message}`, {
      retryable: true,
      cause: err,
    });
  }
  const retryAfter = ariRetryAfter(response.headers.get('retry-after'), opts.now());
  if (response.status === 429) {
    throw new WhisperError('ACME_RATE_LIMITED', `${what}: rate limited (HTTP 429)`, { retryable: true, retryAfter });
  }
  if (response.status !== 200) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: HTTP ${response.status} from ${url}`, {
      retryable: response.status >= 500,
      retryAfter,
    });
  }
  return { ...parseWindow(body, what), retryAfter };
}

// ---------------------------------------------------------------------------------------------
// Choosing the moment
// ---------------------------------------------------------------------------------------------

/**
 * A uniformly random moment in [start, end) (RFC 9773 §4.2), so that many clients spread their renewals;
 * a moment already past (the window has begun or is over) means "renew now" and returns `now`.
 * `random` returns a number in [0, 1) like `Math.random`.
 */
export function pickInWindow(window: RenewalWindow, random: () => number, now: number): Date {
  const start = window.start.getTime();
  const span = Math.max(0, window.end.getTime() - start);
  const at = start + Math.floor(random() * span);
  return new Date(Math.max(at, now));
}
