import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../errors.js';
import { ACCOUNT_URLS_FILE, type AccountFiles } from './account-files.js';
import { keyThumbprint, sameKey } from './account-key.js';
import { ensureDir, writeFileAtomic, type AtomicFs } from './atomic.js';
import { withNewline } from './pem.js';
import type { AccountRecord, AccountRotation } from './types.js';

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WhisperError('STORE_READ', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** `<file>.<why>-<time>` that does not exist yet: an earlier copy kept aside is never overwritten. */
async function freeAsideName(file: string, why: AccountRotation, now: number): Promise<string> {
  // ISO 8601 basic format, milliseconds kept: two rollovers in one second still get two names.
  const base = `${file}.${why}-${new Date(now).toISOString().replace(/[-:]/g, '')}`;
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if ((await readOptional(name)) === undefined) return name;
  }
}

/**
 * The folder's part of `CertStore.rotateAccount`: the account key file holding `from`'s key becomes `to`, its URLs
 * (`.acme.json`) exactly `to`'s. The old key and URLs are first copied aside (`<file>.<why>-<time>`, mode 0600), then
 * the key file is replaced atomically (never missing, even for an instant), then its URLs: a crash between the two
 * leaves the new key with URLs whose thumbprint is the old key's, which are ignored, so the account is looked up
 * again by the new key. A key file the user gave (`-a`, `~/.acme`) is replaced too, since the operator asked for it.
 * A file already holding `to`'s key only gets the URLs (safe to repeat); one holding a third key: `ACME_ACCOUNT`.
 * @returns the base name of the key file kept aside, if any.
 */
export async function rotateAccountFiles(
  files: AccountFiles,
  from: AccountRecord,
  to: AccountRecord,
  why: AccountRotation,
  fs: AtomicFs,
  now: number,
): Promise<string | undefined> {
  const thumbprint = keyThumbprint(to.key);
  if (thumbprint === undefined) throw new WhisperError('ACME_ACCOUNT', 'refusing to save an ACME account key that does not parse');
  const keyFile = files.key.file;
  const urlsFile = path.join(files.dir, ACCOUNT_URLS_FILE);
  const existing = await readOptional(keyFile);
  const done = existing !== undefined && sameKey(existing, to.key);
  let aside: string | undefined;
  if (existing !== undefined && !done) {
    if (!sameKey(existing, from.key)) {
      throw new WhisperError('ACME_ACCOUNT', `${keyFile} holds another ACME account key than the one being replaced; it is left as it is`);
    }
    const keyAside = await freeAsideName(keyFile, why, now);
    await writeFileAtomic(keyAside, existing, { fs, mode: 0o600 });
    const urls = await readOptional(urlsFile);
    if (urls !== undefined) await writeFileAtomic(await freeAsideName(urlsFile, why, now), urls, { fs, mode: 0o600 });
    aside = path.basename(keyAside);
  }
  if (!done) {
    await ensureDir(path.dirname(keyFile), fs);
    await writeFileAtomic(keyFile, withNewline(to.key), { fs, mode: 0o600 });
  }
  await ensureDir(files.dir, fs);
  await writeFileAtomic(urlsFile, `${JSON.stringify({ thumbprint, urls: to.urls }, null, 2)}\n`, { fs, mode: 0o600 });
  return aside;
}
