import type { Stats } from 'ssh2';
import type { Logger } from '../log.js';
import type { ResolvedSftp } from './sftp-config.js';
import { firstSerial, isLeftover, markerFile, sftpFileNames, sftpFiles, tempName } from './sftp-files.js';
import { remotePath, type RemoteAttrs, type RemoteFs } from './sftp-fs.js';
import type { DeliveryItem, DeliveryOutcome, RemovalItem } from './types.js';

function fileAttrs(r: ResolvedSftp): RemoteAttrs {
  return { mode: r.mode, uid: r.uid, gid: r.gid };
}

function attrsMatch(s: Stats, a: RemoteAttrs): boolean {
  return (
    (s.mode & 0o7777) === a.mode && (a.uid === undefined || s.uid === a.uid) && (a.gid === undefined || s.gid === a.gid)
  );
}

/** Serial of the certificate in the remote `<id>.crt`, when there is one. */
async function remoteSerial(fs: RemoteFs, r: ResolvedSftp, id: string): Promise<string | undefined> {
  const text = await fs.read(remotePath(r.location.dir, markerFile(id)));
  return text === undefined ? undefined : firstSerial(text.toString('utf8'));
}

/** Removes temporary files of `names` that an interrupted delivery left in the folder. */
async function removeLeftovers(fs: RemoteFs, dir: string, names: readonly string[], log: Logger): Promise<void> {
  for (const entry of await fs.list(dir)) {
    if (!isLeftover(entry, names)) continue;
    log.info({ file: remotePath(dir, entry) }, 'sftp: removing a temporary file left by an interrupted delivery');
    await fs.unlink(remotePath(dir, entry));
  }
}

/**
 * Puts the files of `item` in the remote folder: nothing is written when `<id>.crt` already holds the serial and
 * every file is there (owner and mode are corrected if they drifted); otherwise the folder is created, each file is
 * written under a temporary name with its owner and mode, then renamed over the old one (`<id>.crt` last).
 */
export async function deliverFiles(
  fs: RemoteFs,
  r: ResolvedSftp,
  item: DeliveryItem,
  log: Logger,
): Promise<DeliveryOutcome> {
  const { dir } = r.location;
  const names = sftpFileNames(item.id);
  const attrs = fileAttrs(r);
  if ((await remoteSerial(fs, r, item.id)) === item.serial) {
    const stats = await Promise.all(names.map((n) => fs.stat(remotePath(dir, n))));
    if (stats.every((s) => s?.isFile())) {
      const drifted = names.filter((_, i) => !attrsMatch(stats[i] as Stats, attrs));
      for (const n of drifted) await fs.setAttrs(remotePath(dir, n), attrs);
      if (drifted.length > 0) log.info({ files: drifted }, 'sftp: owner or mode corrected');
      return {
        detail: drifted.length === 0 ? `serial ${item.serial} already in place` : `owner/mode of ${drifted.join(', ')} corrected`,
      };
    }
  }
  await fs.mkdirs(dir, { mode: r.dirMode, uid: r.uid, gid: r.gid });
  await removeLeftovers(fs, dir, names, log);
  const files = sftpFiles(item).map((f) => ({ ...f, path: remotePath(dir, f.name), temp: remotePath(dir, tempName(f.name)) }));
  const pending = new Set<string>();
  try {
    for (const f of files) {
      pending.add(f.temp);
      await fs.writeNew(f.temp, f.data, attrs);
    }
    for (const f of files) {
      await fs.replace(f.temp, f.path);
      pending.delete(f.temp);
    }
  } catch (err) {
    // Best effort: a lost connection leaves them to the next delivery's clean-up.
    for (const temp of pending) await fs.unlink(temp).catch(() => undefined);
    throw err;
  }
  log.debug({ files: names, serial: item.serial }, 'sftp: certificate files written');
  return { detail: `wrote ${names.join(', ')} (serial ${item.serial})` };
}

/**
 * Removes the files of a certificate whisper-ts took out of the folder. When `<id>.crt` holds another certificate
 * than the one this target delivered (`item.serial`), nothing is removed and a warning says so.
 */
export async function removeFiles(
  fs: RemoteFs,
  r: ResolvedSftp,
  item: RemovalItem,
  log: Logger,
): Promise<DeliveryOutcome> {
  const { dir } = r.location;
  if (!(await fs.stat(dir))?.isDirectory()) return { detail: 'folder absent: nothing to remove' };
  const names = sftpFileNames(item.id);
  const serial = await remoteSerial(fs, r, item.id);
  if (item.serial !== undefined && serial !== undefined && serial !== item.serial) {
    log.warn(
      { delivered: item.serial, found: serial },
      'sftp: the remote files hold another certificate than the one delivered: kept',
    );
    return { detail: `kept: the remote files hold serial ${serial}` };
  }
  for (const n of names) await fs.unlink(remotePath(dir, n));
  await removeLeftovers(fs, dir, names, log);
  return { detail: `removed ${names.join(', ')}` };
}
