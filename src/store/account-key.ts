import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { tryPrivateKey } from './pem.js';

/** The PEM header whisper wrote its RSA 2048 account key with (PKCS#1). */
const WHISPER_KEY_HEADER = '-----BEGIN RSA PRIVATE KEY-----';

/**
 * Whether two PEM private keys are the same key, in any encoding (false when either does not parse). Compares the
 * public keys' DER: `KeyObject.equals` across key types leaves an OpenSSL error queued (Node 24), which makes the next
 * parse of a PKCS#1 key (whisper's) fail once.
 */
export function sameKey(a: string, b: string): boolean {
  const ka = tryPrivateKey(a);
  const kb = tryPrivateKey(b);
  if (ka === undefined || kb === undefined) return false;
  const der = (k: KeyObject) => createPublicKey(k).export({ type: 'spki', format: 'der' });
  return der(ka).equals(der(kb));
}

/**
 * Whether `pem` is in the format whisper wrote (`BEGIN RSA PRIVATE KEY`, PKCS#1). whisper-ts never writes that
 * format (its keys are PKCS#8), so such a key came from whisper or from the user: it is used as it is, never replaced.
 */
export function isWhisperKey(pem: string): boolean {
  return pem.trimStart().startsWith(WHISPER_KEY_HEADER);
}

// RFC 7638 section 3.2: the required members of each key type, in lexicographic order.
const REQUIRED: Record<string, readonly string[]> = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };

/** The RFC 7638 thumbprint (SHA-256, base64url) of a JWK; `undefined` for a key type it does not define. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = REQUIRED[String(jwk.kty)];
  if (members === undefined) return undefined;
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * The {@link jwkThumbprint} of a private key's public key: what ties saved account URLs to the key they belong to.
 * `undefined` when the PEM does not parse.
 */
export function keyThumbprint(pem: string): string | undefined {
  const key = tryPrivateKey(pem);
  return key === undefined ? undefined : jwkThumbprint(key.export({ format: 'jwk' }) as Record<string, unknown>);
}
