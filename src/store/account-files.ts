import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { isWhisperKey, keyThumbprint, sameKey } from './account-key.js';
import { ACCOUNT_KEY_NAME, describeSource, folderKeyFile, type AccountKeyChoice } from './account-key-path.js';
import { ensureDir, writeFileAtomic, type AtomicFs } from './atomic.js';
import { tryPrivateKey, withNewline } from './pem.js';
import type { AccountRecord } from './types.js';

export { sameKey } from './account-key.js';

/** The account key file in the certificate folder, whisper's name. */
export const ACCOUNT_KEY_FILE = ACCOUNT_KEY_NAME;
/**
 * Account URLs per directory URL, always in the certificate folder (the key file may be on a read-only mount):
 * `{ "thumbprint": "<RFC 7638 thumbprint of the key they belong to>", "urls": { "<directoryUrl>": "<accountUrl>" } }`.
 */
export const ACCOUNT_URLS_FILE = '.acme.json';

/** Where one account lives: its key file (see `resolveAccountKeyFile`) and the folder of its `.acme.json`. */
export interface AccountFiles {
  /** The certificate folder. */
  readonly dir: string;
  readonly key: AccountKeyChoice;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WhisperError('STORE_READ', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function corruptKey(file: string): WhisperError {
  return new WhisperError(
    'ACME_ACCOUNT',
    `the ACME account key ${file} is not a readable private key; restore it or move it away to register a new account`,
  );
}

function parseUrls(text: string): { thumbprint?: string; urls: Record<string, string> } {
  const parsed = JSON.parse(text) as { urls?: unknown; thumbprint?: unknown } | null;
  const urls = parsed?.urls;
  if (typeof urls !== 'object' || urls === null || Array.isArray(urls)) throw new Error('no "urls" object');
  const out: Record<string, string> = {};
  for (const [dir, url] of Object.entries(urls)) {
    if (typeof url === 'string') out[dir] = url;
  }
  return { urls: out, ...(typeof parsed?.thumbprint === 'string' ? { thumbprint: parsed.thumbprint } : {}) };
}

/**
 * The URLs of `.acme.json` that belong to `key`: those saved with its thumbprint, or, in a file written before
 * thumbprints were saved, those beside the folder's own `.acme` (the only key they could belong to then). Others are
 * dropped, so a different key is never used with a stale URL: the account is looked up again from the key.
 */
async function urlsOf(files: AccountFiles, key: string, log: Logger): Promise<Record<string, string>> {
  const urlsFile = path.join(files.dir, ACCOUNT_URLS_FILE);
  const text = await readOptional(urlsFile);
  if (text === undefined) return {};
  let saved;
  try {
    saved = parseUrls(text);
  } catch (err) {
    log.warn({ file: urlsFile, err: (err as Error).message }, 'ignoring unreadable account URL file; the account will be looked up again');
    return {};
  }
  if (saved.thumbprint === undefined ? files.key.file === folderKeyFile(files.dir) : saved.thumbprint === keyThumbprint(key)) return saved.urls;
  if (Object.keys(saved.urls).length > 0) {
    log.info({ file: urlsFile, keyFile: files.key.file }, 'the saved account URLs belong to another account key; the account is looked up again');
  }
  return {};
}

/**
 * Read the account key file and its URLs. No key file: `undefined`. An unreadable key: `ACME_ACCOUNT`. An unreadable
 * `.acme.json` only loses the URLs (the CA finds the account again from its key), so it is a warning.
 */
export async function readAccountFiles(files: AccountFiles, log: Logger): Promise<AccountRecord | undefined> {
  const keyFile = files.key.file;
  const key = await readOptional(keyFile);
  if (key === undefined) return undefined;
  if (tryPrivateKey(key) === undefined) throw corruptKey(keyFile);
  return { key, urls: await urlsOf(files, key, log) };
}

/**
 * Write the account: the key file (0600, atomically; its folder created when missing) only when it is missing, and
 * `.acme.json` with the key's thumbprint. An existing key file is never rewritten (it may be whisper's, or on a
 * read-only mount): a corrupt one or a different key is refused with `ACME_ACCOUNT`.
 */
export async function writeAccountFiles(files: AccountFiles, account: AccountRecord, fs: AtomicFs): Promise<void> {
  const thumbprint = keyThumbprint(account.key);
  if (thumbprint === undefined) throw new WhisperError('ACME_ACCOUNT', 'refusing to save an ACME account key that does not parse');
  const keyFile = files.key.file;
  const existing = await readOptional(keyFile);
  if (existing !== undefined && tryPrivateKey(existing) === undefined) throw corruptKey(keyFile);
  if (existing !== undefined && !sameKey(existing, account.key)) {
    throw new WhisperError('ACME_ACCOUNT', `${keyFile} already holds a different account key; refusing to replace it`);
  }
  // The URLs first: a reader (or a crash) between the two writes sees no key yet, never a key without its URLs;
  // URLs without their key are ignored by their thumbprint.
  await ensureDir(files.dir, fs);
  const body = `${JSON.stringify({ thumbprint, urls: account.urls }, null, 2)}\n`;
  await writeFileAtomic(path.join(files.dir, ACCOUNT_URLS_FILE), body, { fs, mode: 0o600 });
  if (existing === undefined) {
    await ensureDir(path.dirname(keyFile), fs);
    await writeFileAtomic(keyFile, withNewline(account.key), { fs, mode: 0o600 });
  }
}

/**
 * Write `account` in place of a different or unreadable account key, which is kept aside with its URLs as
 * `.acme.replaced-<time>` and `.acme.json.replaced-<time>` (never deleted: it may own certificates). The same key
 * only updates the URLs. For a folder that caches a shared account (Consul KV under `--ha`).
 *
 * Only a key whisper-ts created in the certificate folder is replaced. A key file the user gave (`-a`, `~/.acme`) or
 * one in whisper's format (PKCS#1) is left exactly as it is, and so is `.acme.json` (its URLs): that refusal is
 * `ACME_ACCOUNT` naming the file, and the caller uses the shared account without caching it.
 * @returns the name of the key file kept aside, if any.
 */
export async function replaceAccountFiles(files: AccountFiles, account: AccountRecord, fs: AtomicFs, now: number): Promise<string | undefined> {
  if (tryPrivateKey(account.key) === undefined) {
    throw new WhisperError('ACME_ACCOUNT', 'refusing to save an ACME account key that does not parse');
  }
  const keyFile = files.key.file;
  const existing = await readOptional(keyFile);
  let aside: string | undefined;
  if (existing !== undefined && !sameKey(existing, account.key)) {
    if (files.key.userProvided || isWhisperKey(existing)) {
      const whose = files.key.userProvided ? describeSource(files.key.source) : "in whisper's format";
      throw new WhisperError('ACME_ACCOUNT', `the ACME account key ${keyFile} (${whose}) does not hold that account; it is never replaced, so it is left as it is`);
    }
    const suffix = `.replaced-${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
    const urlsFile = path.join(files.dir, ACCOUNT_URLS_FILE);
    try {
      await fs.rename(keyFile, keyFile + suffix);
      await fs.rename(urlsFile, urlsFile + suffix).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    } catch (err) {
      throw new WhisperError('STORE_WRITE', `cannot move the ACME account ${keyFile} aside: ${(err as Error).message}`, { cause: err });
    }
    aside = path.basename(keyFile + suffix);
  }
  await writeAccountFiles(files, account, fs);
  return aside;
}
