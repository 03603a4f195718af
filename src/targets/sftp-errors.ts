import { WhisperError } from '../errors.js';
import { fingerprint } from './known-hosts.js';
import { knownHostsName, type HostKeyVerdict } from './known-hosts-match.js';

/** What the SFTP target's messages name: never key material, only files, hosts and fingerprints. */
export interface SftpErrorContext {
  /** The target name, `sftp://user@host:port/path`. */
  readonly name: string;
  readonly user: string;
  readonly host: string;
  readonly port: number;
  readonly keyFile: string;
  readonly knownHostsFile: string;
}

/** Network errors of a socket: trying again later may work. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** SFTP status codes (draft-ietf-secsh-filexfer-02), as ssh2 puts them in `err.code`. */
export const SFTP_STATUS = { NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 } as const;

function field(err: unknown, key: 'code' | 'level'): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/** The refusal of a host key, not retryable: the message says which host, which file and what to check. */
export function hostKeyError(ctx: SftpErrorContext, verdict: HostKeyVerdict, key: Buffer | undefined): WhisperError {
  const who = knownHostsName(ctx.host, ctx.port);
  const fp = key ? ` (${fingerprint(key)})` : '';
  const scan = `ssh-keyscan${ctx.port === 22 ? '' : ` -p ${ctx.port}`} ${ctx.host}`;
  let why: string;
  if (verdict.accepted) why = 'the host key was accepted';
  else if (verdict.reason === 'revoked') {
    why = `the host key of ${who}${fp} is marked @revoked in ${ctx.knownHostsFile} (line ${verdict.line}); the server needs a new host key`;
  } else if (verdict.reason === 'unknown-host') {
    why = `${who} is not in the known hosts file ${ctx.knownHostsFile}: add its key (${scan}) after checking its fingerprint with the server's administrator`;
  } else {
    why = `the host key of ${who}${fp} does not match the key pinned for it in ${ctx.knownHostsFile} (line ${verdict.line}): either the server's host key changed (check the new fingerprint with its administrator, then update the file) or something is between whisper-ts and the server`;
  }
  return new WhisperError('TARGET_SFTP', `${ctx.name}: refusing to connect: ${why}`, { retryable: false });
}

/**
 * A failure to connect or log in. Authentication failures and algorithm mismatches are not retryable (a person must
 * fix something); network errors and timeouts are.
 */
export function connectError(ctx: SftpErrorContext, err: unknown): WhisperError {
  const level = field(err, 'level');
  const code = field(err, 'code');
  const message = err instanceof Error ? err.message : String(err);
  if (level === 'client-authentication') {
    return new WhisperError(
      'TARGET_SFTP',
      `${ctx.name}: ${ctx.host} refused the login of ${ctx.user} with the key in ${ctx.keyFile}: check that its public key is in ${ctx.user}'s authorized_keys on the server and that the user exists`,
      { retryable: false, cause: err },
    );
  }
  if (level === 'handshake' && /host key/i.test(message)) {
    return new WhisperError(
      'TARGET_SFTP',
      `${ctx.name}: ${ctx.host} offers none of the host key types pinned for it in ${ctx.knownHostsFile}: pin the key it has (ssh-keyscan), after checking its fingerprint`,
      { retryable: false, cause: err },
    );
  }
  if (level === 'client-timeout') {
    return new WhisperError('TARGET_SFTP', `${ctx.name}: the SSH handshake with ${ctx.host}:${ctx.port} timed out`, {
      retryable: true,
      cause: err,
    });
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return new WhisperError('TARGET_SFTP', `${ctx.name}: cannot reach ${ctx.host}:${ctx.port} (${code})`, {
      retryable: true,
      cause: err,
    });
  }
  return new WhisperError('TARGET_SFTP', `${ctx.name}: SSH connection to ${ctx.host}:${ctx.port} failed: ${message}`, {
    retryable: true,
    cause: err,
  });
}

/**
 * A failed SFTP request on `path`. Permission denied is not retryable (the message says what to check); the
 * server's generic failure (a full disk) and lost connections are.
 */
export function sftpError(ctx: SftpErrorContext, what: string, path: string, err: unknown): WhisperError {
  if (err instanceof WhisperError) return err;
  const code = field(err, 'code');
  const message = err instanceof Error ? err.message : String(err);
  if (code === SFTP_STATUS.PERMISSION_DENIED) {
    return new WhisperError(
      'TARGET_SFTP',
      `${ctx.name}: permission denied to ${what} ${path} as ${ctx.user}: check the remote folder's owner and mode, and that the user may set the --sftp-uid/--sftp-gid asked for (only root may give files away)`,
      { retryable: false, cause: err },
    );
  }
  if (code === SFTP_STATUS.OP_UNSUPPORTED) {
    return new WhisperError('TARGET_SFTP', `${ctx.name}: the server does not support ${what} (${path})`, {
      retryable: false,
      cause: err,
    });
  }
  return new WhisperError('TARGET_SFTP', `${ctx.name}: cannot ${what} ${path}: ${message}`, {
    retryable: true,
    cause: err,
  });
}
