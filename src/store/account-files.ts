import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { writeFileAtomic, type AtomicFs } from './atomic.js';
import { tryPrivateKey, withNewline } from './pem.js';
import type { AccountRecord } from './types.js';

/** The account key file, whisper's name. */
export const ACCOUNT_KEY_FILE = '.acme';
/** Account URLs per directory URL: `{ "urls": { "<directoryUrl>": "<accountUrl>" } }`. */
export const ACCOUNT_URLS_FILE = '.acme.json';

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

function parseUrls(text: string): Record<string, string> {
  const parsed: unknown = JSON.parse(text);
  const urls = (parsed as { urls?: unknown } | null)?.urls;
  if (typeof urls !== 'object' || urls === null || Array.isArray(urls)) throw new Error('no "urls" object');
  const out: Record<string, string> = {};
  for (const [dir, url] of Object.entries(urls)) {
    if (typeof url === 'string') out[dir] = url;
  }
  return out;
}

/**
 * Read `.acme` and `.acme.json` from `dir`. No `.acme`: `undefined`. An unreadable `.acme`:
 * `ACME_ACCOUNT`. An unreadable `.acme.json` only loses the URLs (the CA finds the account again
 * from its key), so it is a warning.
 */
export async function readAccountFiles(dir: string, log: Logger): Promise<AccountRecord | undefined> {
  const keyFile = path.join(dir, ACCOUNT_KEY_FILE);
  const key = await readOptional(keyFile);
  if (key === undefined) return undefined;
  if (tryPrivateKey(key) === undefined) throw corruptKey(keyFile);
  const urlsFile = path.join(dir, ACCOUNT_URLS_FILE);
  const urlsText = await readOptional(urlsFile);
  let urls: Record<string, string> = {};
  if (urlsText !== undefined) {
    try {
      urls = parseUrls(urlsText);
    } catch (err) {
      log.warn({ file: urlsFile, err: (err as Error).message }, 'ignoring unreadable account URL file; the account will be looked up again');
    }
  }
  return { key, urls };
}

/**
 * Write the account: `.acme` (0600) only when it is missing, `.acme.json` atomically. An existing
 * `.acme` is never replaced: a corrupt one or a different key is refused with `ACME_ACCOUNT`.
 */
export async function writeAccountFiles(dir: string, account: AccountRecord, fs: AtomicFs): Promise<void> {
  if (tryPrivateKey(account.key) === undefined) {
    throw new WhisperError('ACME_ACCOUNT', 'refusing to save an ACME account key that does not parse');
  }
  const keyFile = path.join(dir, ACCOUNT_KEY_FILE);
  const existing = await readOptional(keyFile);
  if (existing === undefined) {
    await writeFileAtomic(keyFile, withNewline(account.key), { fs, mode: 0o600 });
  } else if (tryPrivateKey(existing) === undefined) {
    throw corruptKey(keyFile);
  } else if (!sameKey(existing, account.key)) {
    throw new WhisperError('ACME_ACCOUNT', `${keyFile} already holds a different account key; refusing to replace it`);
  }
  const body = `${JSON.stringify({ urls: account.urls }, null, 2)}\n`;
  await writeFileAtomic(path.join(dir, ACCOUNT_URLS_FILE), body, { fs, mode: 0o600 });
}

/**
 * Write `account` in place of a different or unreadable account key, which is kept aside with its URLs as
 * `.acme.replaced-<time>` and `.acme.json.replaced-<time>` (never deleted: it may own certificates). The same key
 * only updates the URLs. For a folder that caches a shared account (Consul KV under `--ha`).
 * @returns the name of the key file kept aside, if any.
 */
export async function replaceAccountFiles(dir: string, account: AccountRecord, fs: AtomicFs, now: number): Promise<string | undefined> {
  if (tryPrivateKey(account.key) === undefined) {
    throw new WhisperError('ACME_ACCOUNT', 'refusing to save an ACME account key that does not parse');
  }
  const keyFile = path.join(dir, ACCOUNT_KEY_FILE);
  const existing = await readOptional(keyFile);
  let aside: string | undefined;
  if (existing !== undefined && !sameKey(existing, account.key)) {
    const suffix = `.replaced-${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
    const urlsFile = path.join(dir, ACCOUNT_URLS_FILE);
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
  await writeAccountFiles(dir, account, fs);
  return aside;
}

/** Whether two PEM private keys are the same key (false when either does not parse). */
export function sameKey(a: string, b: string): boolean {
  const ka = tryPrivateKey(a);
  const kb = tryPrivateKey(b);
  return ka !== undefined && kb !== undefined && ka.equals(kb);
}
