import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../errors.js';

/** The file operations an atomic write uses; tests inject failures through it. */
export interface AtomicFs {
  open: typeof fsp.open;
  rename: typeof fsp.rename;
  unlink: typeof fsp.unlink;
  mkdir: typeof fsp.mkdir;
}

/** Node's own `fs.promises`. */
export const nodeFs: AtomicFs = {
  open: fsp.open,
  rename: fsp.rename,
  unlink: fsp.unlink,
  mkdir: fsp.mkdir,
};

/** Random bytes in a temporary file's name (twice as many hex digits). */
const TEMP_RANDOM_BYTES = 6;
const TEMP_NAME = new RegExp(`^\\.(.+)\\.[0-9a-f]{${TEMP_RANDOM_BYTES * 2}}\\.tmp$`);

/** The name of a fresh temporary file for `base` (a file name, no folder): `.<base>.<12 hex digits>.tmp`. */
export function tempFileName(base: string): string {
  return `.${base}.${randomBytes(TEMP_RANDOM_BYTES).toString('hex')}.tmp`;
}

/** The file a temporary file of {@link writeFileAtomic} was meant to become, or `undefined` for any other name. */
export function tempFileTarget(name: string): string | undefined {
  return TEMP_NAME.exec(name)?.[1];
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode; 0600 for anything holding a key. @default 0o644 */
  mode?: number;
  /** File operations. @default nodeFs */
  fs?: AtomicFs;
}

/**
 * Write `data` to `file` so that a reader sees either the old content or the new, never a mix:
 * a dot-prefixed temporary file in the same folder, written, fsynced, renamed over the target,
 * then the folder fsynced. On any error the temporary file is removed and the old file is intact.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const fs = options.fs ?? nodeFs;
  const mode = options.mode ?? 0o644;
  const dir = path.dirname(file);
  const tmp = path.join(dir, tempFileName(path.basename(file)));
  let created = false;
  try {
    const fh = await fs.open(tmp, 'wx', mode);
    created = true;
    try {
      // open()'s mode is filtered by the umask; set it explicitly.
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
    created = false;
  } catch (err) {
    if (created) await fs.unlink(tmp).catch(() => undefined);
    throw new WhisperError('STORE_WRITE', `cannot write ${file}: ${(err as Error).message}`, { cause: err, retryable: true });
  }
  await syncDir(dir, fs);
}

/** Create `dir` (and parents) with mode 0700 when missing. */
export async function ensureDir(dir: string, fs: AtomicFs = nodeFs): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new WhisperError('STORE_WRITE', `cannot create folder ${dir}: ${(err as Error).message}`, { cause: err, retryable: true });
  }
}

// The rename is only durable once the folder entry is on disk. Some platforms cannot fsync a
// folder; the file itself is already complete then, so that is not an error.
async function syncDir(dir: string, fs: AtomicFs): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
