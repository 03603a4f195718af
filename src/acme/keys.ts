import { generateKeyPair as generateKeyPairCb } from 'node:crypto';
import { promisify } from 'node:util';
import { crypto as acmeCrypto } from 'acme-client';

const generateKeyPair = promisify(generateKeyPairCb);

/** Certificate and account key types. */
export type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa2048' | 'rsa4096';

/** Every {@link KeyType}, for option validation. */
export const KEY_TYPES: readonly KeyType[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa2048', 'rsa4096'];

const PKCS8 = { type: 'pkcs8', format: 'pem' } as const;
const SPKI = { type: 'spki', format: 'pem' } as const;

/** A fresh private key, PKCS#8 PEM, generated off the event loop. A secret: never log it. */
export async function generateKey(type: KeyType): Promise<string> {
  switch (type) {
    case 'ecdsa-p256':
    case 'ecdsa-p384': {
      const namedCurve = type === 'ecdsa-p256' ? 'P-256' : 'P-384';
      const { privateKey } = await generateKeyPair('ec', { namedCurve, privateKeyEncoding: PKCS8, publicKeyEncoding: SPKI });
      return privateKey;
    }
    case 'rsa2048':
    case 'rsa4096': {
      const modulusLength = type === 'rsa2048' ? 2048 : 4096;
      const { privateKey } = await generateKeyPair('rsa', { modulusLength, privateKeyEncoding: PKCS8, publicKeyEncoding: SPKI });
      return privateKey;
    }
  }
}

// X.520 limits a common name to 64 characters; CAs refuse longer ones, while SANs may be longer.
const MAX_COMMON_NAME = 64;

/**
 * A PEM certificate signing request for `names` (all are SANs; the first is the common name when it
 * fits in 64 characters, otherwise the subject has none), signed with `keyPem`.
 */
export async function createCsr(names: readonly string[], keyPem: string): Promise<string> {
  const [first] = names;
  if (first === undefined) throw new TypeError('createCsr needs at least one name');
  const altNames = [...names];
  const options = first.length <= MAX_COMMON_NAME ? { commonName: first, altNames } : { altNames };
  const [, csr] = await acmeCrypto.createCsr(options, keyPem);
  return csr.toString();
}
