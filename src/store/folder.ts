import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import { WhisperError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { readAccountFiles, replaceAccountFiles, writeAccountFiles, type AccountFiles } from './account-files.js';
import { describeSource, resolveAccountKeyFile, type KeyPathFs } from './account-key-path.js';
import { rotateAccountFiles } from './account-rotate.js';
import { ensureDir, nodeFs, writeFileAtomic, type AtomicFs } from './atomic.js';
import { removeCertbot, removePkcs12, writeCertbot, writePkcs12, type FormatContext, type StoreFormat } from './formats.js';
import { assertValidId, isMultiHostId, isValidId } from './ids.js';
import { checkBundle, describeCert, parseStoredFile, pemBlocks, withNewline } from './pem.js';
import { probeWritable } from './probe.js';
import { removeTempFiles } from './temp-files.js';
import type { AccountRecord, AccountRotation, CertBundle, CertStore, StoredCert } from './types.js';

/** Options of {@link createFolderStore}. */
export interface FolderStoreOptions {
  /** Files written for each certificate; `haproxy` (`<id>.pem`) is always written. @default ['haproxy'] */
  formats?: readonly StoreFormat[];
  /**
   * Folder of the extra formats. HAProxy's `crt <dir>` tries to load every file of its folder,
   * so a `.p12` beside the PEM files should go elsewhere. @default the store folder
   */
  formatsDir?: string;
  /** Password of the PKCS#12 files. @default the empty password (no password to type; the key bag is still encrypted) */
  pkcs12Password?: string;
  /** Warnings (an unreadable `.acme.json`, a temporary file that cannot be removed) and the count of removed ones. @default silent */
  log?: Logger;
  /** File operations, for fault injection in tests. @default node's fs */
  fs?: AtomicFs;
  /** Clock (ms since the epoch) that decides which listed certificates are reported as expired. @default Date.now */
  now?: () => number;
  /**
   * `-a, --acme-key`: the ACME account key file (absolute), used wherever it is and created there when missing.
   * @default `<folder>/.acme` if it exists, else `<homeDir>/.acme` if it exists, else a new key at `<folder>/.acme`
   */
  accountKeyFile?: string;
  /** The home folder whose `.acme` is the last whisper's default account key (`os.homedir()`). @default none: not looked at */
  homeDir?: string;
  /** File checks of the account key's resolution, for fault injection in tests. @default node's fs */
  keyPathFs?: KeyPathFs;
}

/** The folder store: a {@link CertStore}, plus what the daemon does with the folder at start. */
export interface FolderStore extends CertStore {
  /**
   * Removes the temporary files a killed run left in the folder and the formats folder (ours only, see
   * {@link removeTempFiles}) and logs their count. Call it once at start, before any write.
   * @returns how many were removed.
   */
  removeTempFiles(): Promise<number>;
}

const PEM_SUFFIX = '.pem';

/**
 * The certificate folder in whisper's layout: `<id>.pem` (private key, leaf, chain: HAProxy's
 * combined file), `.acme` (the account key) and `.acme.json` (account URLs per directory).
 * Every write is atomic; key material is mode 0600; the folder is created 0700 when missing.
 *
 * The account key file is resolved at each account read or write (see `resolveAccountKeyFile`): `-a`, the folder's
 * `.acme`, `~/.acme`, or a new `<folder>/.acme`; the file in use and why is logged (info) whenever it changes. Its URLs
 * always live in `<folder>/.acme.json`. A key file the user gave is never replaced (see `replaceAccountFiles`).
 */
export function createFolderStore(dir: string, options: FolderStoreOptions = {}): FolderStore {
  const root = path.resolve(dir);
  const fs = options.fs ?? nodeFs;
  const log = options.log ?? silentLogger();
  const now = options.now ?? Date.now;
  const formats = new Set(options.formats ?? ['haproxy']);
  const formatCtx: FormatContext = {
    dir: path.resolve(options.formatsDir ?? root),
    fs,
    log,
    ...(options.pkcs12Password === undefined ? {} : { pkcs12Password: options.pkcs12Password }),
  };
  const fileOf = (id: string): string => path.join(root, `${id}${PEM_SUFFIX}`);

  async function read(id: string): Promise<StoredCert | undefined> {
    assertValidId(id);
    const file = fileOf(id);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WhisperError('STORE_READ', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    return parseStoredFile(id, file, text);
  }

  async function readKey(id: string): Promise<string | undefined> {
    assertValidId(id);
    let text: string;
    try {
      text = await fsp.readFile(fileOf(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WhisperError('STORE_READ', `cannot read ${fileOf(id)}: ${(err as Error).message}`, { cause: err });
    }
    return pemBlocks(text).find((b) => b.label.endsWith('PRIVATE KEY'))?.pem;
  }

  async function list(onProblem?: (file: string, err: Error) => void): Promise<StoredCert[]> {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new WhisperError('STORE_READ', `cannot list ${root}: ${(err as Error).message}`, { cause: err });
    }
    const found: StoredCert[] = [];
    for (const entry of entries) {
      const name = entry.name;
      if (name.startsWith('.') || !name.endsWith(PEM_SUFFIX) || !entry.isFile()) continue;
      const file = path.join(root, name);
      const id = name.slice(0, -PEM_SUFFIX.length);
      try {
        if (!isValidId(id)) {
          throw new WhisperError('HOSTNAME_INVALID', `${file}: its name is not a certificate id whisper-ts manages`);
        }
        const cert = await read(id);
        if (cert === undefined) continue;
        found.push(cert);
        // Still listed (the budget counts it, `status` shows it), but the operator should know.
        const note = listNote(cert, file, now());
        if (note !== undefined) onProblem?.(file, note);
      } catch (err) {
        onProblem?.(file, err instanceof Error ? err : new Error(String(err)));
      }
    }
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async function write(id: string, bundle: CertBundle): Promise<StoredCert> {
    assertValidId(id);
    const { leaf, chain } = checkBundle(id, bundle);
    const key = withNewline(bundle.key);
    await ensureDir(root, fs);
    if (formats.has('certbot') || formats.has('pkcs12')) await ensureDir(formatCtx.dir, fs);
    const input = { id, key, leaf, chain };
    if (formats.has('certbot')) await writeCertbot(input, formatCtx);
    if (formats.has('pkcs12')) await writePkcs12(input, formatCtx);
    // The HAProxy file goes last: once it changes, everything else is already in place.
    const file = fileOf(id);
    await writeFileAtomic(file, key + leaf + chain.join(''), { fs, mode: 0o600 });
    return describeCert(id, file, leaf);
  }

  async function remove(id: string): Promise<void> {
    assertValidId(id);
    // The mirror of `write`: the HAProxy file goes last, so a failure leaves it there, to be seen and retried.
    try {
      if (formats.has('certbot')) await removeCertbot(id, formatCtx);
      if (formats.has('pkcs12')) await removePkcs12(id, formatCtx);
      await fs.unlink(fileOf(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new WhisperError('STORE_WRITE', `cannot remove certificate ${id} from ${root}: ${errorMessage(err)}`, { retryable: true, cause: err });
    }
  }

  let loggedKey: string | undefined;
  async function accountFiles(): Promise<AccountFiles> {
    const places = {
      folder: root,
      ...(options.accountKeyFile === undefined ? {} : { file: path.resolve(options.accountKeyFile) }),
      ...(options.homeDir ? { home: options.homeDir } : {}),
    };
    const key = await resolveAccountKeyFile(places, options.keyPathFs);
    const seen = `${key.source} ${key.file}`;
    if (seen !== loggedKey) {
      loggedKey = seen;
      const missing = key.source === 'option' && !key.exists ? '; it does not exist yet: a new key is created there' : '';
      log.info({ file: key.file, source: key.source, exists: key.exists }, `ACME account key: ${key.file} (${describeSource(key.source)}${missing})`);
    }
    return { dir: root, key };
  }

  async function readAccount(): Promise<AccountRecord | undefined> {
    return readAccountFiles(await accountFiles(), log);
  }

  async function writeAccount(account: AccountRecord): Promise<void> {
    await writeAccountFiles(await accountFiles(), account, fs);
  }

  async function replaceAccount(account: AccountRecord): Promise<string | undefined> {
    return replaceAccountFiles(await accountFiles(), account, fs, now());
  }

  async function rotateAccount(from: AccountRecord, to: AccountRecord, why: AccountRotation): Promise<string | undefined> {
    return rotateAccountFiles(await accountFiles(), from, to, why, fs, now());
  }

  const cleanTemp = () => removeTempFiles(root, { formatsDir: formatCtx.dir, fs, log });

  async function checkWritable(): Promise<void> {
    try {
      await ensureDir(root, fs);
      await probeWritable(root);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
      const uid = process.getuid?.() ?? 'unknown';
      throw new WhisperError('STORE_WRITE', `certificate folder ${root} is not writable by uid ${uid}: ${code}; nothing is ordered until it is`, {
        retryable: true,
        cause: err,
      });
    }
  }

  return { read, readKey, list, write, remove, readAccount, writeAccount, replaceAccount, rotateAccount, checkWritable, removeTempFiles: cleanTemp } satisfies FolderStore;
}

/**
 * Why a readable certificate file deserves a report: expired, or a single-host file (`<name>.pem`)
 * whose certificate does not hold that name (copied in by hand, or another tool's file).
 */
function listNote(cert: StoredCert, file: string, now: number): WhisperError | undefined {
  if (cert.notAfter.getTime() <= now) {
    return new WhisperError('STORE_READ', `${file}: the certificate expired on ${cert.notAfter.toISOString()}; the file is kept`);
  }
  if (!isMultiHostId(cert.id) && !cert.names.includes(cert.id)) {
    return new WhisperError('STORE_READ', `${file}: the certificate is for [${cert.names.join(', ')}], not ${cert.id}; the file is kept`);
  }
  return undefined;
}
