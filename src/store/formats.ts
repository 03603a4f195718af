import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDir, writeFileAtomic, type AtomicFs } from './atomic.js';
import { toPkcs12Der } from './pkcs12.js';

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
  /** Password of the PKCS#12 file; the empty password when unset. */
  readonly pkcs12Password?: string;
}

/** The files of one certificate's certbot folder. */
export const CERTBOT_FILES = ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem'] as const;

/**
 * certbot's layout: `<dir>/<id>/cert.pem`, `chain.pem`, `fullchain.pem`, `privkey.pem` (0600),
 * the folder 0700.
 */
export async function writeCertbot(input: FormatInput, ctx: FormatContext): Promise<void> {
  const folder = path.join(ctx.dir, input.id);
  await ensureDir(folder, ctx.fs);
  const chain = input.chain.join('');
  const [cert, chainFile, fullchain, privkey] = CERTBOT_FILES;
  await writeFileAtomic(path.join(folder, cert), input.leaf, { fs: ctx.fs });
  await writeFileAtomic(path.join(folder, chainFile), chain, { fs: ctx.fs });
  await writeFileAtomic(path.join(folder, fullchain), input.leaf + chain, { fs: ctx.fs });
  await writeFileAtomic(path.join(folder, privkey), input.key, { fs: ctx.fs, mode: 0o600 });
}

/**
 * PKCS#12 `<dir>/<id>.p12` (mode 0600) holding the key, the leaf and the chain, for every key type
 * (see {@link toPkcs12Der}). Without `pkcs12Password` the file opens with the empty password.
 */
export async function writePkcs12(input: FormatInput, ctx: FormatContext): Promise<void> {
  const file = path.join(ctx.dir, `${input.id}.p12`);
  let der: Uint8Array;
  try {
    der = toPkcs12Der({ key: input.key, leaf: input.leaf, chain: input.chain, friendlyName: input.id }, ctx.pkcs12Password);
  } catch (err) {
    // The store checked the key and certificates with node:crypto already, so this is not expected.
    throw new WhisperError('STORE_WRITE', `cannot build ${file}: ${(err as Error).message}`, { cause: err });
  }
  await writeFileAtomic(file, der, { fs: ctx.fs, mode: 0o600 });
}

/** Removes `file`; one already gone counts as removed. */
async function unlinkIfPresent(file: string, fs: AtomicFs): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Removes the certbot folder of `id` ({@link writeCertbot}'s files, one unlink each), then the folder itself when
 * nothing else is in it: a file someone else put there is kept, and so is the folder. Files already gone count
 * as removed.
 */
export async function removeCertbot(id: string, ctx: Pick<FormatContext, 'dir' | 'fs'>): Promise<void> {
  const folder = path.join(ctx.dir, id);
  for (const name of CERTBOT_FILES) await unlinkIfPresent(path.join(folder, name), ctx.fs);
  try {
    await fsp.rmdir(folder);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
}

/** Removes `<dir>/<id>.p12` ({@link writePkcs12}'s file); one already gone counts as removed. */
export async function removePkcs12(id: string, ctx: Pick<FormatContext, 'dir' | 'fs'>): Promise<void> {
  await unlinkIfPresent(path.join(ctx.dir, `${id}.p12`), ctx.fs);
}
