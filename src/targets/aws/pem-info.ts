import { X509Certificate } from 'node:crypto';

/** The serial of a PEM certificate as whisper-ts writes serials: uppercase hex. */
export function certSerial(pem: string): string {
  return new X509Certificate(pem).serialNumber.toUpperCase();
}

/**
 * ACM's name of a certificate's key type and size (`EC_prime256v1`, `RSA_2048`): a re-import into an ARN must keep
 * it, so a change (`--key-type`) needs a new ARN.
 */
export function acmKeyAlgorithm(pem: string): string {
  const key = new X509Certificate(pem).publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') return `EC_${details.namedCurve ?? 'unknown'}`;
  if (key.asymmetricKeyType === 'rsa') return `RSA_${details.modulusLength ?? 0}`;
  return String(key.asymmetricKeyType);
}
