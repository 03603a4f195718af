import { LETSENCRYPT } from '../options.js';

/**
 * Which CA issued a certificate, for one whose state entry does not say (a file of whisper, or of an older
 * release): the CA of another certificate with the same issuer name whose origin is known, else Let's Encrypt's
 * staging or production told apart by the `(STAGING)` its staging intermediates carry in their names. `undefined`
 * when nothing tells.
 * @param issuer the certificate's issuer name (`StoredCert.issuer`)
 * @param known issuer name → directory URL, learned from certificates whose origin the state records
 */
export function originOf(issuer: string, known: ReadonlyMap<string, string>): string | undefined {
  const learned = known.get(issuer);
  if (learned !== undefined) return learned;
  if (!/\bO=Let's Encrypt\b|\(STAGING\)/.test(issuer)) return undefined;
  return /\(STAGING\)/.test(issuer) ? LETSENCRYPT.staging : LETSENCRYPT.production;
}
