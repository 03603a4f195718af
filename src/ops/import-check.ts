import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { WhisperError, errorMessage } from '../errors.js';
import { normalizeHostname } from '../plan/hostname.js';
import { dnsNames, pemBlocks, withNewline } from '../store/pem.js';
import type { CertBundle } from '../store/types.js';

/** A certificate adopted by `whisper-ts import`, validated. */
export interface CheckedImport {
  /** DNS names, canonical (lowercase ASCII, punycode), unique, sorted. */
  readonly names: string[];
  /** Key (PKCS#8 or SEC1), leaf, chain ordered from the leaf's issuer up. */
  readonly bundle: CertBundle;
  /** Uppercase hex. */
  readonly serial: string;
  readonly notAfter: Date;
}

const KEY_LABELS = new Set(['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);

/**
 * Validates one PEM file to import: exactly one private key (PKCS#8, SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE
 * KEY`, the last converted to PKCS#8), the leaf (the certificate of that key) and its chain, in any order in the file:
 * each certificate must be issued and signed by the next one, and every certificate of the file must be part of the
 * chain. Nothing may be expired at `now`. The names come from the leaf's DNS SANs (its CN only when it has none) and
 * must be valid hostnames (a `*.` wildcard allowed).
 *
 * @param name the file's name, first word of every error message
 * @throws WhisperError `CONFIG_INVALID` saying what is wrong (never printing the key)
 */
export function checkImportPem(name: string, pem: string, now: number): CheckedImport {
  const fail = (reason: string, cause?: unknown): never => {
    throw new WhisperError('CONFIG_INVALID', `${name}: ${reason}`, cause === undefined ? {} : { cause });
  };
  const blocks = pemBlocks(pem);
  if (blocks.some((b) => b.label === 'ENCRYPTED PRIVATE KEY')) fail('the private key is encrypted: decrypt it first (openssl pkey -in <file>)');
  const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
  if (keys.length !== 1) fail(keys.length === 0 ? 'no private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)' : `${keys.length} private keys: a file holds one certificate's key`);
  const keyBlock = keys[0]!;
  let key: KeyObject;
  try {
    key = createPrivateKey(keyBlock.pem);
  } catch (err) {
    return fail('the private key does not parse', err);
  }
  const certs = parseCertificates(blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.pem), fail);
  if (certs.length === 0) fail('no certificate');
  const leafAt = certs.findIndex((c) => c.checkPrivateKey(key));
  if (leafAt < 0) fail('no certificate matches the private key');
  const leaf = certs[leafAt]!;
  const chain = orderChain(leaf, certs.filter((_, i) => i !== leafAt), fail);
  for (const [i, c] of [leaf, ...chain].entries()) {
    const what = i === 0 ? 'the certificate' : `chain certificate ${i} (${oneLine(c.subject)})`;
    if (Date.parse(c.validTo) <= now) fail(`${what} expired on ${new Date(c.validTo).toISOString()}`);
  }
  const names = leafNames(leaf, fail);
  const keyPem = keyBlock.label === 'RSA PRIVATE KEY' ? key.export({ type: 'pkcs8', format: 'pem' }).toString() : keyBlock.pem;
  return {
    names,
    bundle: { key: withNewline(keyPem), cert: withNewline(leaf.toString()), chain: chain.map((c) => withNewline(c.toString())).join('') },
    serial: leaf.serialNumber.toUpperCase(),
    notAfter: new Date(leaf.validTo),
  };
}

/** The file's certificates, parsed; the same certificate twice counts once. */
function parseCertificates(pems: readonly string[], fail: (reason: string, cause?: unknown) => never): X509Certificate[] {
  const seen = new Set<string>();
  const out: X509Certificate[] = [];
  for (const [i, pem] of pems.entries()) {
    let c: X509Certificate;
    try {
      c = new X509Certificate(pem);
    } catch (err) {
      return fail(`certificate ${i + 1} of the file does not parse`, err);
    }
    if (seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    out.push(c);
  }
  return out;
}

/** The chain from the leaf's issuer up, each certificate checked to be issued and signed by the next. */
function orderChain(leaf: X509Certificate, rest: readonly X509Certificate[], fail: (reason: string) => never): X509Certificate[] {
  const pool = [...rest];
  const chain: X509Certificate[] = [];
  for (let child = leaf; ;) {
    const at = pool.findIndex((p) => child.checkIssued(p) && child.verify(p.publicKey));
    if (at < 0) break;
    child = pool.splice(at, 1)[0]!;
    chain.push(child);
  }
  if (chain.length === 0) fail(`no certificate of the file issued the certificate (issuer ${oneLine(leaf.issuer)}): add its chain (intermediates) after it`);
  if (pool.length > 0) {
    const last = chain[chain.length - 1]!;
    fail(`${oneLine(pool[0]!.subject)} is not part of the certificate's chain (the chain ends at ${oneLine(last.subject)}, issued by ${oneLine(last.issuer)})`);
  }
  return chain;
}

function leafNames(leaf: X509Certificate, fail: (reason: string, cause?: unknown) => never): string[] {
  let raw = dnsNames(leaf);
  if (raw.length === 0) {
    const cn = /^CN=(.+)$/m.exec(leaf.subject)?.[1];
    if (cn === undefined) fail('the certificate names no host: no DNS subject alternative name, no common name');
    raw = [cn!];
  }
  const names = new Set<string>();
  for (const n of raw) {
    try {
      names.add(normalizeHostname(n, { allowWildcard: true }));
    } catch (err) {
      fail(errorMessage(err), err);
    }
  }
  return [...names].sort();
}

const oneLine = (dn: string): string => dn.split('\n').filter(Boolean).join(', ');
