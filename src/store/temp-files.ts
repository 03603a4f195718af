import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import { JOURNAL_FILE, isJournalFile } from '../acme/journal.js';
import { WhisperError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { LOCK_FILE } from '../ops/lock-info.js';
import { STATE_FILE } from '../state/types.js';
import { ACCOUNT_KEY_FILE, ACCOUNT_URLS_FILE } from './account-files.js';
import { nodeFs, tempFileTarget, type AtomicFs } from './atomic.js';
import { CERTBOT_FILES } from './formats.js';
import { isValidId } from './ids.js';
import { PROBE_TARGET } from './probe.js';

/** Options of {@link removeTempFiles}. */
export interface RemoveTempFilesOptions {
  /** Folder of the certbot and PKCS#12 outputs. @default the certificate folder */
  readonly formatsDir?: string;
  /** File operations (its `unlink`), for fault injection in tests. @default node's fs */
  readonly fs?: AtomicFs;
  /** The count of removed files (info), files that could not be removed (warn). @default silent */
  readonly log?: Logger;
}

/** The files whisper-ts writes into the certificate folder besides the certificates. */
const FOLDER_FILES: ReadonlySet<string> = new Set([ACCOUNT_KEY_FILE, ACCOUNT_URLS_FILE, STATE_FILE, JOURNAL_FILE, PROBE_TARGET, LOCK_FILE]);
const CERTBOT: ReadonlySet<string> = new Set(CERTBOT_FILES);

const idFile = (name: string, suffix: string): boolean => name.endsWith(suffix) && isValidId(name.slice(0, -suffix.length));

/**
 * Removes the temporary files a killed run left (`.<name>.<12 hex digits>.tmp`, see `writeFileAtomic`), and only
 * those whose `<name>` is a file whisper-ts writes there: `<id>.pem`, `.acme`, `.acme.json`, the state file, the
 * folder lock, the challenge journal and the writability probe in the certificate folder; `<id>.p12` and the certbot files of `<id>/` in the formats folder.
 * Any other file is left alone. Call it at start, before anything writes: a write in flight has such a file too.
 * A folder that cannot be listed, or a file that cannot be removed, is a warning naming it, never a failure.
 * @returns how many files were removed (logged once, at info, when there were any).
 */
export async function removeTempFiles(dir: string, options: RemoveTempFilesOptions = {}): Promise<number> {
  const root = path.resolve(dir);
  const formatsDir = path.resolve(options.formatsDir ?? root);
  const fs = options.fs ?? nodeFs;
  const log = options.log ?? silentLogger();

  const inRoot = (name: string) => FOLDER_FILES.has(name) || isJournalFile(name) || idFile(name, '.pem') || (formatsDir === root && idFile(name, '.p12'));
  const rootEntries = await entries(root, log);
  let count = await clean(root, rootEntries, inRoot, fs, log);
  const formatEntries = formatsDir === root ? rootEntries : await entries(formatsDir, log);
  if (formatsDir !== root) count += await clean(formatsDir, formatEntries, (name) => idFile(name, '.p12'), fs, log);
  for (const sub of formatEntries) {
    if (!sub.isDirectory() || !isValidId(sub.name)) continue;
    const folder = path.join(formatsDir, sub.name);
    count += await clean(folder, await entries(folder, log), (name) => CERTBOT.has(name), fs, log);
  }
  if (count > 0) log.info({ folder: root, count }, `removed ${count} temporary file(s) left by an earlier run`);
  return count;
}

async function entries(dir: string, log: Logger): Promise<Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.warn({ folder: dir, code: 'STORE_READ' }, `cannot list ${dir} for temporary files: ${errorMessage(err)}`);
    }
    return [];
  }
}

async function clean(dir: string, found: readonly Dirent[], ours: (target: string) => boolean, fs: AtomicFs, log: Logger): Promise<number> {
  let count = 0;
  for (const entry of found) {
    const target = tempFileTarget(entry.name);
    if (target === undefined || !entry.isFile() || !ours(target)) continue;
    const file = path.join(dir, entry.name);
    try {
      await fs.unlink(file);
      count += 1;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      const problem = new WhisperError('STORE_WRITE', `cannot remove the temporary file ${file}: ${errorMessage(err)}`, { cause: err });
      log.warn({ file, code: problem.code }, problem.message);
    }
  }
  return count;
}
