import type { Logger } from '../log.js';
import { loadSftpSecrets, resolveSftpOptions, type SftpTargetOptions } from './sftp-config.js';
import { deliverFiles, removeFiles } from './sftp-deliver.js';
import { safeId } from './sftp-files.js';
import { remoteFs, type RemoteFs } from './sftp-fs.js';
import { openSftpSession, type SftpSession } from './sftp-session.js';
import { WhisperError } from '../errors.js';
import type { Target } from './types.js';

export { checkSftpTargetOptions, SFTP_DEFAULT_TIMEOUT_MS, type SftpTargetOptions } from './sftp-config.js';

/**
 * The SFTP target (`--target sftp://user@host[:port]/path`): writes each certificate into a remote folder as
 * `<id>.pem` (HAProxy's combined file, as in the local folder), `<id>.key` and `<id>.crt` (leaf + chain), each
 * under a temporary name first and then renamed over the old file (`posix-rename@openssh.com` when the server has
 * it), with `mode` and, when given, `uid`/`gid`. The remote folder is created when missing.
 *
 * One SSH connection per delivery, always closed; key authentication only (`keyFile`); the server's host key must
 * be pinned in `knownHostsFile` (unknown or different keys are refused, with no way around it). A serial already in
 * `<id>.crt` with every file present writes nothing. Removal deletes the three files.
 *
 * Errors are `TARGET_SFTP`: `retryable` for network failures, timeouts and a lost connection; not for a refused
 * host key, a refused login or a permission denied, whose messages name the host and what to check.
 * Nothing is read or contacted here.
 * @throws WhisperError `TARGET_CONFIG` for a bad URL or option.
 */
export function createSftpTarget(url: URL, options: SftpTargetOptions): Target {
  const r = resolveSftpOptions(url, options);
  const sessions = new Set<SftpSession>();
  let warnedOpenKey = false;

  const withRemote = async <T>(id: string, log: Logger, signal: AbortSignal, work: (fs: RemoteFs) => Promise<T>) => {
    if (!safeId(id)) {
      throw new WhisperError('TARGET_SFTP', `${r.location.name}: certificate id ${JSON.stringify(id)} cannot be a file name`);
    }
    const secrets = await loadSftpSecrets(r, 'TARGET_SFTP');
    if (secrets.keyFileOpen && !warnedOpenKey) {
      warnedOpenKey = true;
      (options.log ?? log).warn({ file: r.errors.keyFile }, 'the SSH key file can be read by group or others: chmod 600 it');
    }
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(r.timeoutMs)]);
    const session = await openSftpSession({
      ctx: r.errors,
      privateKey: secrets.privateKey,
      knownHosts: secrets.knownHosts,
      signal: deadline,
      timeoutMs: r.timeoutMs,
    });
    sessions.add(session);
    try {
      return await work(remoteFs(session, r.errors));
    } finally {
      sessions.delete(session);
      session.close();
    }
  };

  return {
    name: r.location.name,
    deliver: (item, ctx, signal) => withRemote(item.id, ctx.log, signal, (fs) => deliverFiles(fs, r, item, ctx.log)),
    remove: (item, ctx, signal) => withRemote(item.id, ctx.log, signal, (fs) => removeFiles(fs, r, item, ctx.log)),
    async close() {
      for (const s of sessions) s.close();
      sessions.clear();
    },
  };
}
