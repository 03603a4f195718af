import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { homedir } from 'node:os';
import { WhisperError } from '../errors.js';

/** The account key file's name, in the certificate folder and in the home folder (whisper's name). */
export const ACCOUNT_KEY_NAME = '.acme';

/** Where the account key may be: what {@link chooseAccountKeyFile} picks from. */
export interface AccountKeyPlaces {
  /** The certificate folder (absolute). */
  readonly folder: string;
  /** `-a, --acme-key` (absolute): wins over everything, and is created when missing. @default none */
  readonly file?: string;
  /** The home folder whose `.acme` is the last whisper's default (`os.homedir()`). @default none: no `~/.acme` */
  readonly home?: string;
}

/**
 * Why a key file is used: `option` (`-a`), `folder` (`<folder>/.acme`, whisper's first layout and whisper-ts's),
 * `home` (`~/.acme`, the last whisper's default), `new` (none found: a new key goes to `<folder>/.acme`).
 */
export type AccountKeySource = 'option' | 'folder' | 'home' | 'new';

/** The account key file in use. */
export interface AccountKeyChoice {
  readonly file: string;
  readonly source: AccountKeySource;
  /** Whether the file exists now (`false`: a new key is written there when the account is created). */
  readonly exists: boolean;
  /**
   * The user gave this file (`-a`, `~/.acme`): whisper-ts never replaces, converts, moves or deletes it. Only a key
   * it created itself in the folder is its own to replace (see `replaceAccount`).
   */
  readonly userProvided: boolean;
}

/** `<folder>/.acme`. */
export function folderKeyFile(folder: string): string {
  return path.join(folder, ACCOUNT_KEY_NAME);
}

/** The files to look at, in order of preference. */
function candidates(places: AccountKeyPlaces): Array<{ file: string; source: AccountKeySource }> {
  if (places.file !== undefined) return [{ file: places.file, source: 'option' }];
  const home = places.home ? [{ file: path.join(places.home, ACCOUNT_KEY_NAME), source: 'home' as const }] : [];
  return [{ file: folderKeyFile(places.folder), source: 'folder' }, ...home];
}

/**
 * The account key file: `-a` when given (created there when missing, as whisper did); otherwise `<folder>/.acme` when
 * it exists, else `~/.acme` when it exists, else a new key at `<folder>/.acme`. `exists` is asked in that order and
 * not after the first file found.
 */
export function chooseAccountKeyFile(places: AccountKeyPlaces, exists: (file: string) => boolean): AccountKeyChoice {
  const list = candidates(places);
  for (const { file, source } of list) {
    const found = exists(file);
    if (found || source === 'option') return { file, source, exists: found, userProvided: source !== 'folder' };
  }
  return { file: folderKeyFile(places.folder), source: 'new', exists: false, userProvided: false };
}

/** Why a file is a candidate, in messages. */
export function describeSource(source: AccountKeySource): string {
  switch (source) {
    case 'option':
      return 'given with -a/--acme-key';
    case 'folder':
      return 'found in the certificate folder';
    case 'home':
      return "found in the home folder (the last whisper's default ~/.acme), none in the certificate folder";
    case 'new':
      return 'none in the certificate folder nor in the home folder: a new key is created in the certificate folder';
  }
}

/** The file system calls {@link resolveAccountKeyFile} makes; tests inject failures through them. */
export interface KeyPathFs {
  stat(file: string): Promise<{ isDirectory(): boolean; isFile(): boolean }>;
  access(file: string, mode: number): Promise<void>;
}

const nodeKeyPathFs: KeyPathFs = { stat: (f) => fsp.stat(f), access: (f, m) => fsp.access(f, m) };

function unusable(file: string, source: AccountKeySource, why: string, cause?: unknown): WhisperError {
  return new WhisperError('ACME_ACCOUNT', `the ACME account key ${file} (${describeSource(source)}) ${why}`, cause === undefined ? {} : { cause });
}

/**
 * Whether `file` is there. A directory, another kind of file, a file this process cannot read or a path it cannot
 * look at is `ACME_ACCOUNT`: taking the next candidate (or creating a new key) would silently use another account.
 */
async function present(file: string, source: AccountKeySource, fs: KeyPathFs): Promise<boolean> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    throw unusable(file, source, `cannot be looked at: ${code ?? (err as Error).message}`, err);
  }
  if (stat.isDirectory()) {
    throw unusable(
      file,
      source,
      'is a directory, not a key file. Docker creates a directory when a mounted host file does not exist: mount an existing key file, or drop the mount to use a new key',
    );
  }
  if (!stat.isFile()) throw unusable(file, source, 'is not a regular file');
  try {
    await fs.access(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw unusable(file, source, `is not readable by uid ${process.getuid?.() ?? 'unknown'}: ${code}`, err);
  }
  return true;
}

/** {@link chooseAccountKeyFile} on the file system; throws `ACME_ACCOUNT` naming a candidate that cannot be used. */
export async function resolveAccountKeyFile(places: AccountKeyPlaces, fs: KeyPathFs = nodeKeyPathFs): Promise<AccountKeyChoice> {
  const found = new Map<string, boolean>();
  for (const { file, source } of candidates(places)) {
    const there = await present(file, source, fs);
    found.set(file, there);
    if (there) break;
  }
  return chooseAccountKeyFile(places, (file) => found.get(file) ?? false);
}

/** `<account key file>.next` of the account key file the folder store resolves (`-a`, the folder's `.acme`, `~/.acme`). */
export async function pendingKeyFileOf(config: { readonly certDir: string; readonly acmeKeyFile?: string }): Promise<string> {
  const keyFile = await resolveAccountKeyFile({
    folder: config.certDir,
    ...(config.acmeKeyFile ? { file: config.acmeKeyFile } : {}),
    home: homedir(),
  });
  return `${keyFile.file}.next`;
}
