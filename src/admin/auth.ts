import { createHash, timingSafeEqual } from 'node:crypto';

/** True for a client address on the loopback interface: `127.0.0.0/8`, `::1`, and IPv4 mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return m !== null && m.slice(1).every((n) => Number(n) <= 255);
}

/**
 * True when the `Host` header names the machine itself (`localhost`, a loopback IP). A loopback client is trusted
 * without a token only then: a web page whose own name was rebound to 127.0.0.1 (DNS rebinding) sends its own name.
 */
export function isLocalHost(host: string | undefined): boolean {
  if (!host) return false;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+))(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  const name = (m[1] ?? m[2] ?? '').toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || isLoopback(name);
}

/**
 * Whether `authorization` (the header) carries `Bearer <expected>`. Compares SHA-256 digests in constant time: the
 * digests have equal lengths whatever was sent, so neither the token's length nor a matching prefix leaks.
 */
export function tokenMatches(expected: string, authorization: string | undefined): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  const given = createHash('sha256').update(m?.[1] ?? '').digest();
  const want = createHash('sha256').update(expected).digest();
  return timingSafeEqual(given, want) && m !== null;
}

/** What {@link decideAccess} weighs. */
export interface AccessRequest {
  /** A POST (an operator's action) rather than a read. */
  readonly action: boolean;
  /** The dashboard's files rather than the API. */
  readonly page: boolean;
  /** The client connects from loopback and names the machine in `Host` (see {@link isLocalHost}). */
  readonly local: boolean;
  /** `--admin-token-file` was given. */
  readonly tokenConfigured: boolean;
  /** An `Authorization` header was sent. */
  readonly tokenSent: boolean;
  /** It carried the configured token. */
  readonly tokenValid: boolean;
}

/** The outcome: allowed, or the status, message and whether to send `WWW-Authenticate: Bearer`. */
export type Access =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly status: 401 | 403; readonly message: string; readonly challenge: boolean };

const ALLOWED: Access = { allowed: true };
const NEEDS_FILE = 'the admin API and dashboard answer only on loopback without --admin-token-file; set it to open them to other addresses';

/**
 * The access rule. Reads from loopback need no token; every other read needs the token (or, without one configured,
 * is refused with a hint). Actions always need the token. A wrong token is refused even where none is needed, so that
 * the dashboard tells its user at once. The pages hold no data: with a token configured anybody may load them.
 */
export function decideAccess(r: AccessRequest): Access {
  if (r.tokenConfigured && r.tokenValid) return ALLOWED;
  if (r.action) {
    if (!r.tokenConfigured) return { allowed: false, status: 403, message: 'actions need --admin-token-file', challenge: false };
    return { allowed: false, status: 401, message: 'actions need the admin token: Authorization: Bearer <token>', challenge: true };
  }
  if (r.tokenConfigured && r.tokenSent) return { allowed: false, status: 401, message: 'the admin token is wrong', challenge: true };
  if (r.local || (r.page && r.tokenConfigured)) return ALLOWED;
  if (!r.tokenConfigured) return { allowed: false, status: 403, message: NEEDS_FILE, challenge: false };
  return { allowed: false, status: 401, message: 'the admin token is required from this address: Authorization: Bearer <token>', challenge: true };
}
