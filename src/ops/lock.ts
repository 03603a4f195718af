import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { tempFileName, writeFileAtomic } from '../store/atomic.js';
import { heldTimers, systemTimers, type Timers } from '../time.js';
import { LOCK_FILE, describeHolder, isStale, parseLockInfo, processAlive, sameHolder, type LockInfo, type LockKind } from './lock-info.js';

export { LOCK_FILE, describeHolder, type LockInfo, type LockKind } from './lock-info.js';

/** Options of {@link acquireFolderLock}. */
export interface AcquireLockOptions {
  /** `true` (the daemon): wait until the folder is free. `false` (a command): fail with `FOLDER_LOCKED` at once. */
  readonly wait: boolean;
  /** Ends a wait with `ABORTED`. */
  readonly signal?: AbortSignal;
  /** @default referenced timers while waiting, unreferenced ones for the heartbeat */
  readonly timers?: Timers;
  /** @default Date.now */
  readonly now?: () => number;
  /** How often the holder rewrites the lock. @default 15000 */
  readonly heartbeatMs?: number;
  /** A lock whose heartbeat is older than this is taken over. @default 60000 */
  readonly staleMs?: number;
  /** How often a waiting process looks again. @default 1000 */
  readonly pollMs?: number;
  readonly log?: Logger;
  /** Whether a pid of this host exists. @default process.kill(pid, 0) */
  readonly alive?: (pid: number) => boolean;
  /** @default process.pid */
  readonly pid?: number;
  /** @default os.hostname() */
  readonly host?: string;
  /** Called after each heartbeat that rewrote the lock (tests). @default none */
  readonly onHeartbeat?: (info: LockInfo) => void;
}

/** A held folder lock. */
export interface FolderLock {
  readonly info: LockInfo;
  /** Records the admin API's URL and token file (the daemon, once it listens). */
  update(patch: { readonly api?: string; readonly tokenFile?: string }): Promise<void>;
  /** Stops the heartbeat and removes the file if it is still ours. Safe to repeat. */
  release(): Promise<void>;
}

/** Options of {@link readFolderLock}. */
export interface ReadLockOptions {
  readonly now?: number;
  /** @default 60000 */
  readonly staleMs?: number;
  readonly alive?: (pid: number) => boolean;
  readonly pid?: number;
  readonly host?: string;
}

const lockPath = (folder: string) => join(folder, LOCK_FILE);

async function readLock(file: string): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WhisperError('STORE_READ', `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return parseLockInfo(file, text);
}

/** The folder's lock as it is now, and whether its holder is gone; `undefined` when the folder is not locked. */
export async function readFolderLock(folder: string, opts: ReadLockOptions = {}): Promise<(LockInfo & { stale: boolean }) | undefined> {
  const info = await readLock(lockPath(folder));
  if (info === undefined) return undefined;
  const stale = isStale(info, {
    pid: opts.pid ?? process.pid,
    host: opts.host ?? hostname(),
    now: opts.now ?? Date.now(),
    staleMs: opts.staleMs ?? 60_000,
    alive: opts.alive ?? processAlive,
  });
  return { ...info, stale };
}

/**
 * The private temporary file a lock is created (or a stale one moved aside) through: named like `writeFileAtomic`'s (`.<name>.<hex>.tmp`), so the
 * one a `kill -9` leaves is removed by the next start with the other temporary files.
 */
export function lockTempFile(file: string): string {
  return join(dirname(file), tempFileName(basename(file)));
}

/**
 * Creates the lock file only if there is none; `false` when another holds it. The content is written to a private
 * temporary file (O_EXCL, 0600) first and linked into place, which fails when the lock exists: nobody ever reads a
 * lock half written. Where hard links are not supported, the lock is created in place with O_EXCL.
 */
async function tryCreate(file: string, info: LockInfo): Promise<boolean> {
  const text = `${JSON.stringify(info)}\n`;
  const tmp = lockTempFile(file);
  try {
    await writeExclusive(tmp, text);
    try {
      await link(tmp, file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOENT: a starting daemon removed our temporary file as a leftover; it holds the lock now.
      if (code === 'EEXIST' || code === 'ENOENT') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    }
    await writeExclusive(file, text);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new WhisperError('STORE_WRITE', `cannot create ${file}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function writeExclusive(file: string, text: string): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(file).catch(() => undefined);
    throw err;
  }
  await fh.close();
}

/**
 * Moves a stale lock aside, then checks that what moved is the lock judged stale: two processes taking over at once
 * must not remove the lock the quicker one has just created. A newer lock moved by mistake is put back (link does not
 * overwrite, so a third holder is never clobbered).
 */
async function removeStale(file: string, stale: LockInfo): Promise<void> {
  const aside = lockTempFile(file);
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new WhisperError('STORE_WRITE', `cannot take over ${file}: ${errorMessage(err)}`, { cause: err });
  }
  const moved = await readLock(aside).catch(() => undefined);
  if (moved !== undefined && !sameHolder(moved, stale)) await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/**
 * Takes `<folder>/.whisper.lock` so that two processes never order the same certificate. A lock whose holder is gone
 * (see `isStale`) is taken over, and said so in the log. While held, a heartbeat rewrites the file every
 * `heartbeatMs` (atomically), so that a holder on another host that died is recognised by its age.
 *
 * @throws WhisperError `FOLDER_LOCKED` naming the holder (`wait: false`), `ABORTED` when `signal` ends a wait,
 *   `STORE_CORRUPT` when the file is not a lock, `STORE_WRITE` when it cannot be written.
 */
export async function acquireFolderLock(folder: string, want: { readonly kind: LockKind; readonly api?: string; readonly tokenFile?: string }, opts: AcquireLockOptions): Promise<FolderLock> {
  const file = lockPath(folder);
  const now = opts.now ?? Date.now;
  const pid = opts.pid ?? process.pid;
  const host = opts.host ?? hostname();
  const staleMs = opts.staleMs ?? 60_000;
  const alive = opts.alive ?? processAlive;
  const started = new Date(now()).toISOString();
  let info: LockInfo = { pid, host, started, kind: want.kind, ...(want.api ? { api: want.api } : {}), ...(want.tokenFile ? { tokenFile: want.tokenFile } : {}), heartbeat: started };
  let reportedWait = false;
  for (;;) {
    if (opts.signal?.aborted) throw new WhisperError('ABORTED', `waiting for ${file} aborted`);
    info = { ...info, heartbeat: new Date(now()).toISOString() };
    if (await tryCreate(file, info)) break;
    const held = await readLock(file);
    if (held === undefined) continue; // released between the two calls
    if (isStale(held, { pid, host, now: now(), staleMs, alive })) {
      opts.log?.warn({ file, holder: { pid: held.pid, host: held.host, kind: held.kind, since: held.started, heartbeat: held.heartbeat } },
        `taking over the folder lock of ${describeHolder(held)}: it is gone`);
      await removeStale(file, held);
      continue;
    }
    if (!opts.wait) throw lockedError(file, held);
    if (!reportedWait) {
      opts.log?.info({ file, holder: { pid: held.pid, host: held.host, kind: held.kind, since: held.started } }, `waiting for the folder: ${describeHolder(held)} holds it`);
      reportedWait = true;
    }
    await wait(opts.timers ?? heldTimers, opts.pollMs ?? 1000, opts.signal, file);
  }
  return holdLock(file, info, { ...opts, now });
}

function lockedError(file: string, held: LockInfo): WhisperError {
  return new WhisperError('FOLDER_LOCKED', `${file}: the folder is in use by ${describeHolder(held)}; try again when it is done`, { retryable: true });
}

function wait(timers: Timers, ms: number, signal: AbortSignal | undefined, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timers.clearTimeout(handle);
      reject(new WhisperError('ABORTED', `waiting for ${file} aborted`));
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The held lock: heartbeat, update, release. Writes are serialised so a release never races a heartbeat. */
function holdLock(file: string, first: LockInfo, opts: AcquireLockOptions & { now: () => number }): FolderLock {
  const timers = opts.timers ?? systemTimers;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  let info = first;
  let released = false;
  let handle: unknown;
  let chain: Promise<void> = Promise.resolve();
  const serial = (step: () => Promise<void>) => (chain = chain.then(step, step));

  /** Rewrites the lock if it is still ours; a lock another process took over is left alone (said once). */
  const rewrite = async (): Promise<void> => {
    if (released) return;
    const current = await readLock(file).catch(() => undefined);
    if (current === undefined || !sameHolder(current, info)) {
      opts.log?.error({ file }, 'the folder lock is no longer ours (taken over as stale, or removed): stopping its heartbeat');
      released = true;
      return;
    }
    info = { ...info, heartbeat: new Date(opts.now()).toISOString() };
    await writeFileAtomic(file, `${JSON.stringify(info)}\n`, { mode: 0o600 });
  };
  const schedule = () => {
    handle = timers.setTimeout(() => {
      void serial(async () => {
        try {
          await rewrite();
          if (!released) opts.onHeartbeat?.(info);
        } catch (err) {
          opts.log?.warn({ file, err: errorMessage(err) }, 'could not refresh the folder lock');
        }
        if (!released) schedule();
      });
    }, heartbeatMs);
  };
  schedule();

  return {
    get info() {
      return info;
    },
    update(patch) {
      return serial(async () => {
        info = { ...info, ...(patch.api !== undefined ? { api: patch.api } : {}), ...(patch.tokenFile !== undefined ? { tokenFile: patch.tokenFile } : {}) };
        await rewrite();
      });
    },
    release() {
      return serial(async () => {
        if (handle !== undefined) timers.clearTimeout(handle);
        handle = undefined;
        if (released) return;
        released = true;
        const current = await readLock(file).catch(() => undefined);
        if (current !== undefined && sameHolder(current, info)) await unlink(file).catch(() => undefined);
      });
    },
  };
}
