import { readFile, stat } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { WhisperError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { parseKnownHosts, type KnownHosts } from './known-hosts.js';
import { pinnedKeyTypes } from './known-hosts-match.js';
import type { SftpErrorContext } from './sftp-errors.js';
import { parseSftpUrl, type SftpLocation } from './sftp-url.js';

/** Options of the SFTP target (`--target sftp://user@host[:port]/path`). */
export interface SftpTargetOptions {
  /** Private key file used to log in (`--ssh-key`): OpenSSH or PEM format, unencrypted, best mode 0600. */
  keyFile: string;
  /**
   * known_hosts file pinning the server's host key (`--ssh-known-hosts`). A server whose key is not in it is
   * refused: there is no option that accepts any key.
   */
  knownHostsFile: string;
  /** Mode of the files written (`--sftp-mode`). @default 0o600 */
  mode?: number;
  /** Owner given to the files written and the folders created (`--sftp-uid`; needs root on the server). @default unchanged (the login user) */
  uid?: number;
  /** Group given to the files written and the folders created (`--sftp-gid`). @default unchanged */
  gid?: number;
  /** For warnings outside a delivery (a key file others can read). @default silent */
  log?: Logger;
  /** Deadline of one delivery or removal: connecting, logging in and every file operation, in ms. @default 30000 */
  timeoutMs?: number;
}

/** The checked options. */
export interface ResolvedSftp {
  readonly location: SftpLocation;
  readonly mode: number;
  /** Mode of the folders created: 0700, plus read and search for group and others when the file mode gives them any. */
  readonly dirMode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly timeoutMs: number;
  readonly errors: SftpErrorContext;
}

/** The default {@link SftpTargetOptions.timeoutMs}. */
export const SFTP_DEFAULT_TIMEOUT_MS = 30_000;

function idOk(v: number | undefined): boolean {
  return v === undefined || (Number.isInteger(v) && v >= 0 && v <= 0xffff_fffe);
}

/**
 * Checks the URL and the numbers (no file is read).
 * @throws WhisperError `TARGET_CONFIG`.
 */
export function resolveSftpOptions(url: URL, options: SftpTargetOptions): ResolvedSftp {
  const location = parseSftpUrl(url);
  const mode = options.mode ?? 0o600;
  const bad = (what: string) => new WhisperError('TARGET_CONFIG', `SFTP target ${location.name}: ${what}`);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw bad(`--sftp-mode ${mode} is not a file mode (0 to 0777)`);
  if (!idOk(options.uid)) throw bad(`--sftp-uid ${options.uid} is not a user id`);
  if (!idOk(options.gid)) throw bad(`--sftp-gid ${options.gid} is not a group id`);
  const timeoutMs = options.timeoutMs ?? SFTP_DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw bad(`the timeout ${timeoutMs} ms is not positive`);
  if (!options.keyFile) throw bad('--ssh-key is required');
  if (!options.knownHostsFile) throw bad('--ssh-known-hosts is required');
  const dirMode = 0o700 | (mode & 0o070 ? 0o050 : 0) | (mode & 0o007 ? 0o005 : 0);
  return {
    location,
    mode,
    dirMode,
    uid: options.uid,
    gid: options.gid,
    timeoutMs,
    errors: { ...location, keyFile: options.keyFile, knownHostsFile: options.knownHostsFile },
  };
}

/** The private key and the pinned host keys, read afresh for each connection (files may be rotated). */
export interface SftpSecrets {
  readonly privateKey: Buffer;
  readonly knownHosts: KnownHosts;
  /** Whether group or others may read the key file. */
  readonly keyFileOpen: boolean;
}

/**
 * Reads and checks the key file and the known_hosts file.
 * @throws WhisperError with `code` (not retryable) naming the file and the option, never the key.
 */
export async function loadSftpSecrets(r: ResolvedSftp, code: ErrorCode): Promise<SftpSecrets> {
  const { name, keyFile, knownHostsFile } = r.errors;
  const fail = (what: string, cause?: unknown) => new WhisperError(code, `${name}: ${what}`, { cause });
  let privateKey: Buffer;
  let keyFileOpen: boolean;
  try {
    privateKey = await readFile(keyFile);
    keyFileOpen = ((await stat(keyFile)).mode & 0o077) !== 0;
  } catch (err) {
    throw fail(`cannot read the key file ${keyFile} (--ssh-key): ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
  }
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error || key.getPrivatePEM() === null) {
    const why = key instanceof Error ? `: ${key.message}` : '';
    throw fail(`${keyFile} (--ssh-key) is not an unencrypted private key${why}`);
  }
  let text: string;
  try {
    text = await readFile(knownHostsFile, 'utf8');
  } catch (err) {
    throw fail(
      `cannot read the known hosts file ${knownHostsFile} (--ssh-known-hosts): ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      err,
    );
  }
  return { privateKey, knownHosts: parseKnownHosts(text), keyFileOpen };
}

/**
 * Startup check of the SFTP target's options, for the command line: the URL, the key file (readable, a private
 * key, not encrypted; a warning when others may read it) and the known_hosts file (at least one usable key pinned
 * for the host; a warning per line it skips). Connects to nothing.
 * @throws WhisperError `TARGET_CONFIG` naming the option.
 */
export async function checkSftpTargetOptions(url: URL, options: SftpTargetOptions): Promise<void> {
  const r = resolveSftpOptions(url, options);
  const secrets = await loadSftpSecrets(r, 'TARGET_CONFIG');
  const { name, host, port, keyFile, knownHostsFile } = r.errors;
  if (secrets.keyFileOpen) {
    options.log?.warn({ target: name, file: keyFile }, 'the SSH key file can be read by group or others: chmod 600 it');
  }
  for (const s of secrets.knownHosts.skipped) {
    options.log?.warn({ target: name, file: knownHostsFile, line: s.line }, `known hosts line skipped: ${s.reason}`);
  }
  if (pinnedKeyTypes(secrets.knownHosts, host, port).length === 0) {
    throw new WhisperError(
      'TARGET_CONFIG',
      `${name}: the known hosts file ${knownHostsFile} (--ssh-known-hosts) pins no key for ${host}${port === 22 ? '' : ` port ${port}`}: add it with ssh-keyscan${port === 22 ? '' : ` -p ${port}`} ${host}, after checking its fingerprint with the server's administrator`,
    );
  }
}
