import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { FileEntryWithStats, Stats } from 'ssh2';
import { SFTP_STATUS, sftpError, type SftpErrorContext } from './sftp-errors.js';
import type { SftpSession } from './sftp-session.js';

/** Owner and mode applied to what the target writes. */
export interface RemoteAttrs {
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
}

/** Promise-based file operations on an SFTP session, with the target's error mapping. */
export interface RemoteFs {
  /** `undefined` when the path does not exist. */
  stat(path: string): Promise<Stats | undefined>;
  /** `undefined` when the file does not exist. */
  read(path: string): Promise<Buffer | undefined>;
  list(dir: string): Promise<string[]>;
  /** `mkdir -p`; folders it creates get `attrs` (mode, owner). */
  mkdirs(dir: string, attrs: RemoteAttrs): Promise<void>;
  /** Writes `data` to a new file (exclusive create, mode 0600 until `attrs` apply), synced when the server can. */
  writeNew(path: string, data: Buffer, attrs: RemoteAttrs): Promise<void>;
  /** Sets owner (when given), then mode. */
  setAttrs(path: string, attrs: RemoteAttrs): Promise<void>;
  /** Puts `from` in place of `to`, atomically when the server has `posix-rename@openssh.com`. */
  replace(from: string, to: string): Promise<void>;
  /** Removes a file; a missing one is fine. */
  unlink(path: string): Promise<void>;
}

function isMissing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE;
}

function unsupported(err: unknown): boolean {
  return err instanceof Error && /does not support/i.test(err.message);
}

/** A remote path in `dir`: `dir/name`, or `name` alone when `dir` is the login folder (`.`). */
export function remotePath(dir: string, name: string): string {
  return dir === '.' ? name : posix.join(dir, name);
}

/** Creates the {@link RemoteFs} of a session. */
export function remoteFs(session: SftpSession, ctx: SftpErrorContext): RemoteFs {
  const { sftp, call } = session;
  const op = async <T>(what: string, path: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw sftpError(ctx, what, path, err);
    }
  };
  const stat = (path: string) =>
    op('stat', path, () => call<Stats>((cb) => sftp.stat(path, cb)).catch((err: unknown) => {
      if (isMissing(err)) return undefined;
      throw err;
    }));
  const setAttrs = (path: string, attrs: RemoteAttrs) =>
    op('set the owner and mode of', path, async () => {
      if (attrs.uid !== undefined || attrs.gid !== undefined) {
        const now = await call<Stats>((cb) => sftp.stat(path, cb));
        await call((cb) => sftp.chown(path, attrs.uid ?? now.uid, attrs.gid ?? now.gid, cb));
      }
      await call((cb) => sftp.chmod(path, attrs.mode, cb));
    });

  const fs: RemoteFs = {
    stat,
    read: (path) =>
      op('read', path, () =>
        call<Buffer>((cb) => sftp.readFile(path, cb)).catch((err: unknown) => {
          if (isMissing(err)) return undefined;
          throw err;
        }),
      ),
    list: (dir) =>
      op('list', dir, async () =>
        (await call<FileEntryWithStats[]>((cb) => sftp.readdir(dir, cb))).map((e) => e.filename),
      ),
    async mkdirs(dir, attrs) {
      if ((await stat(dir))?.isDirectory()) return;
      const absolute = dir.startsWith('/');
      const parts = dir.split('/').filter((p) => p !== '' && p !== '.');
      for (let i = 1; i <= parts.length; i++) {
        const path = `${absolute ? '/' : ''}${parts.slice(0, i).join('/')}`;
        const found = await stat(path);
        if (found?.isDirectory()) continue;
        if (found) throw sftpError(ctx, 'create the folder', path, new Error('a file of that name is in the way'));
        await op('create the folder', path, () =>
          call((cb) => sftp.mkdir(path, { mode: attrs.mode }, cb)).catch(async (err: unknown) => {
            // Someone else may have created it meanwhile.
            if (!(await stat(path))?.isDirectory()) throw err;
          }),
        );
        await setAttrs(path, attrs);
      }
    },
    writeNew: (path, data, attrs) =>
      op('write', path, async () => {
        const handle = await call<Buffer>((cb) => sftp.open(path, 'wx', { mode: 0o600 }, cb));
        try {
          await call((cb) => sftp.write(handle, data, 0, data.length, 0, cb));
          try {
            await call((cb) => sftp.ext_openssh_fsync(handle, cb));
          } catch (err) {
            if (!unsupported(err)) throw err;
          }
        } finally {
          await call((cb) => sftp.close(handle, cb)).catch(() => undefined);
        }
        await setAttrs(path, attrs);
      }),
    setAttrs,
    replace: (from, to) =>
      op('rename into', to, async () => {
        try {
          await call((cb) => sftp.ext_openssh_rename(from, to, cb));
          return;
        } catch (err) {
          if (!unsupported(err)) throw err;
        }
        // Plain SFTP rename refuses to overwrite: move the old file aside, put the new one in, drop the old one.
        const aside = posix.join(posix.dirname(to), `.${posix.basename(to)}.old-${randomBytes(4).toString('hex')}`);
        const hadOld = await call((cb) => sftp.rename(to, aside, cb)).then(
          () => true,
          (err: unknown) => {
            if (isMissing(err)) return false;
            throw err;
          },
        );
        try {
          await call((cb) => sftp.rename(from, to, cb));
        } catch (err) {
          if (hadOld) await call((cb) => sftp.rename(aside, to, cb)).catch(() => undefined);
          throw err;
        }
        if (hadOld) await call((cb) => sftp.unlink(aside, cb)).catch(() => undefined);
      }),
    unlink: (path) =>
      op('remove', path, async () => {
        await call((cb) => sftp.unlink(path, cb)).catch((err: unknown) => {
          if (!isMissing(err)) throw err;
        });
      }),
  };
  return fs;
}
