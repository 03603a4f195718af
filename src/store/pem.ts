import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { WhisperError } from '../errors.js';
import type { CertBundle, StoredCert } from './types.js';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, ...) and its text with the armour lines. */
export interface PemBlock {
  readonly label: string;
  readonly pem: string;
}

/** Every PEM block of `text`, in order; text between blocks is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(BLOCK)].map((m) => ({ label: m[1] ?? '', pem: `${m[0]}\n` }));
}

/** The certificates of a PEM text, each ending with a newline. */
export function pemCertificates(text: string): string[] {
  return pemBlocks(text)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.pem);
}

/** DNS names of a certificate's subjectAltName, lowercase, unique, sorted. */
export function dnsNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName ?? '';
  const names = san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    // Newer Node versions quote entries holding unusual characters.
    .map((entry) => entry.slice(4).replace(/^"(.*)"$/, '$1').toLowerCase());
  return [...new Set(names)].sort();
}

/** What we know of a parsed leaf certificate. */
export function describeCert(id: string, file: string, certPem: string): StoredCert {
  const x509 = new X509Certificate(certPem);
  return {
    id,
    path: file,
    names: dnsNames(x509),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    serial: x509.serialNumber.toUpperCase(),
    issuer: x509.issuer,
    cert: certPem,
  };
}

/**
 * Parse a HAProxy PEM file (key, leaf, chain): the first certificate is the leaf.
 * @throws WhisperError `STORE_CORRUPT` when there is no certificate or it does not parse.
 */
export function parseStoredFile(id: string, file: string, text: string): StoredCert {
  const leaf = pemCertificates(text)[0];
  if (leaf === undefined) {
    throw new WhisperError('STORE_CORRUPT', `${file} holds no certificate`);
  }
  try {
    return describeCert(id, file, leaf);
  } catch (err) {
    throw new WhisperError('STORE_CORRUPT', `${file} holds a certificate that does not parse`, { cause: err });
  }
}

/** Parse a private key PEM, or `undefined` when it is not one. */
export function tryPrivateKey(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}

/**
 * Check a bundle before anything is written: the leaf and every chain certificate parse, the key
 * parses and matches the leaf's public key.
 * @throws WhisperError `STORE_WRITE` naming the certificate id (never the key).
 */
export function checkBundle(id: string, bundle: CertBundle): { leaf: string; chain: string[] } {
  const certs = pemCertificates(bundle.cert);
  const leaf = certs[0];
  if (leaf === undefined || certs.length !== 1) {
    throw new WhisperError('STORE_WRITE', `certificate ${id}: expected exactly one leaf certificate, got ${certs.length}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(leaf);
  } catch (err) {
    throw new WhisperError('STORE_WRITE', `certificate ${id}: the leaf certificate does not parse`, { cause: err });
  }
  const chain = pemCertificates(bundle.chain);
  for (const [i, pem] of chain.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new WhisperError('STORE_WRITE', `certificate ${id}: chain certificate ${i + 1} does not parse`, { cause: err });
    }
  }
  const key = tryPrivateKey(bundle.key);
  if (key === undefined) {
    throw new WhisperError('STORE_WRITE', `certificate ${id}: the private key does not parse`);
  }
  if (!x509.checkPrivateKey(key)) {
    throw new WhisperError('STORE_WRITE', `certificate ${id}: the private key does not match the certificate`);
  }
  return { leaf, chain };
}

/** Normalise a PEM text to end with exactly one newline. */
export function withNewline(pem: string): string {
  return pem.length === 0 ? '' : `${pem.trimEnd()}\n`;
}
