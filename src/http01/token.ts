/** The path prefix the CA asks under (RFC 8555 §8.3). */
export const CHALLENGE_PATH = '/.well-known/acme-challenge/';

// RFC 8555 §8.3: the token is base64url without padding, at least 128 bits of entropy (22 characters); we accept
// any length from 1 to 256 so that a CA's longer tokens work, and nothing else reaches a file name, a KV key or a map.
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** True when `token` is a syntactically valid ACME token (base64url, no padding, 1 to 256 characters). */
export function isAcmeToken(token: string): boolean {
  return TOKEN.test(token);
}

// `<token>.<base64url thumbprint>` (RFC 8555 §8.1); printable ASCII is all we demand, so a CA's variation still works.
const KEY_AUTHORIZATION = /^[\x21-\x7e]{1,1024}$/;

/** True when `value` can be served as a key authorization (printable ASCII, no spaces, at most 1024 characters). */
export function isKeyAuthorization(value: string): boolean {
  return KEY_AUTHORIZATION.test(value);
}
