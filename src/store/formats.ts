import { createPrivateKey } from 'node:crypto';
import path from 'node:path';
import forge from 'node-forge';
import type { Logger } from '../log.js';
import { ensureDir, writeFileAtomic, type AtomicFs } from './atomic.js';

/** Output formats: `haproxy` is whisper's combined `<id>.pem`; the others are opt-in extras. */
export type StoreFormat = 'haproxy' | 'certbot' | 'pkcs12';

/** What the extra writers need for one certificate. */
export interface FormatInput {
  readonly id: string;
  /** Private key PEM (a secret). */
  readonly key: string;
  /** Leaf certificate PEM. */
  readonly leaf: string;
  /** Chain certificates PEM, in order. */
  readonly chain: readonly string[];
}

/** Where and how the extra writers write. */
export interface FormatContext {
  /** Folder the extra files go to. */
  readonly dir: string;
  readonly fs: AtomicFs;
  readonly log: Logger;
  /** Password of the PKCS#12 file; none when unset. */
  readonly pkcs12Password?: string;
}

/**
 * certbot's layout: `<dir>/<id>/cert.pem`, `chain.pem`, `fullchain.pem`, `privkey.pem` (0600),
 * the folder 0700.
 */
export async function writeCertbot(input: FormatInput, ctx: FormatContext): Promise<void> {
  const folder = path.join(ctx.dir, input.id);
  await ensureDir(folder, ctx.fs);
  const chain = input.chain.join('');
  await writeFileAtomic(path.join(folder, 'cert.pem'), input.leaf, { fs: ctx.fs });
  await writeFileAtomic(path.join(folder, 'chain.pem'), chain, { fs: ctx.fs });
  await writeFileAtomic(path.join(folder, 'fullchain.pem'), input.leaf + chain, { fs: ctx.fs });
  await writeFileAtomic(path.join(folder, 'privkey.pem'), input.key, { fs: ctx.fs, mode: 0o600 });
}

/**
 * PKCS#12 `<dir>/<id>.p12` (mode 0600) holding the key, the leaf and the chain. node-forge only
 * handles RSA keys there: with any other key type the file is skipped with a warning.
 * @returns whether the file was written.
 */
export async function writePkcs12(input: FormatInput, ctx: FormatContext): Promise<boolean> {
  const keyType = createPrivateKey(input.key).asymmetricKeyType;
  if (keyType !== 'rsa') {
    ctx.log.warn(
      { certId: input.id, keyType },
      'PKCS#12 output needs an RSA key (node-forge cannot write %s keys); skipping the .p12 file',
      keyType,
    );
    return false;
  }
  let der: Uint8Array;
  try {
    der = toPkcs12Der(input, ctx.pkcs12Password);
  } catch (err) {
    // forge also refuses certificates whose own key is not RSA (e.g. an ECDSA intermediate).
    ctx.log.warn({ certId: input.id, err: (err as Error).message }, 'node-forge cannot build the PKCS#12 file; skipping it');
    return false;
  }
  await writeFileAtomic(path.join(ctx.dir, `${input.id}.p12`), der, { fs: ctx.fs, mode: 0o600 });
  return true;
}

/** The PKCS#12 DER bytes of an RSA key and its certificates (3DES, as most tools read it). */
export function toPkcs12Der(input: FormatInput, password?: string): Uint8Array {
  const key = forge.pki.privateKeyFromPem(input.key);
  const certs = [input.leaf, ...input.chain].map((pem) => forge.pki.certificateFromPem(pem));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, certs, password ?? null, {
    algorithm: '3des',
    friendlyName: input.id,
  });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
