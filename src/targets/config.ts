import { WhisperError, errorMessage } from '../errors.js';
import { parseAwsTargetUrl } from './aws/urls.js';
import { parseSocketAddress } from './haproxy-socket.js';
import { parseSftpUrl } from './sftp-url.js';
import { AWS_SCHEMES, parseTargetUrl, shownTarget, targetScheme } from './urls.js';

/** The delivery targets of the configuration (`--haproxy-socket`, `--target` and their options). */
export interface TargetsConfig {
  /** `--haproxy-socket`: HAProxy runtime API addresses, a unix socket path or host:port. @default [] */
  readonly haproxySockets: readonly string[];
  /** `--target`: URLs of the other destinations, parsed (see `parseTargetUrl`). @default [] */
  readonly urls: readonly URL[];
  /** Options of the AWS targets. */
  readonly aws: {
    /** `--aws-endpoint`. */
    readonly endpoint?: string;
    /** `--s3-kms-key`. */
    readonly s3KmsKey?: string;
    /** `--iam-delete-expired`. @default false */
    readonly iamDeleteExpired: boolean;
  };
  /** Options of the SFTP targets; present when there is an `sftp://` target. */
  readonly sftp?: {
    /** `--ssh-key`. */
    readonly keyFile: string;
    /** `--ssh-known-hosts`. */
    readonly knownHostsFile: string;
    /** `--sftp-mode`. */
    readonly mode?: number;
    /** `--sftp-uid`. */
    readonly uid?: number;
    /** `--sftp-gid`. */
    readonly gid?: number;
  };
}

/** The raw option values {@link parseTargetsConfig} reads (after flags, environment and defaults were merged). */
export interface RawTargetOptions {
  readonly haproxySockets: readonly string[];
  readonly targets: readonly string[];
  readonly awsEndpoint?: string;
  readonly s3KmsKey?: string;
  readonly iamDeleteExpired: boolean;
  readonly sshKey?: string;
  readonly sshKnownHosts?: string;
  readonly sftpMode?: string;
  readonly sftpUid?: string;
  readonly sftpGid?: string;
}

function invalid(option: string, message: string, cause?: unknown): WhisperError {
  return new WhisperError('CONFIG_INVALID', `${option}: ${message}`, cause === undefined ? {} : { cause });
}

function id(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value.trim()) || Number(value) > 0xffffffff) throw invalid(option, `must be a numeric id from 0 to 4294967295 (got ${JSON.stringify(value)})`);
  return Number(value);
}

function haproxySocket(value: string): string {
  const v = value.trim();
  if (v.startsWith('/')) {
    if (/[\0\r\n]/.test(v)) throw invalid('--haproxy-socket', `not a socket path: ${JSON.stringify(value)}`);
    return v;
  }
  if (!/^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/i.test(v) || Number(v.slice(v.lastIndexOf(':') + 1)) > 65535) {
    throw invalid('--haproxy-socket', `expected an absolute unix socket path or host:port (got ${JSON.stringify(value)})`);
  }
  try {
    parseSocketAddress(v);
  } catch (err) {
    throw invalid('--haproxy-socket', errorMessage(err), err);
  }
  return v;
}

/**
 * Validates the target options into a {@link TargetsConfig}, or `undefined` when no target is configured (the
 * folder alone, as before). Throws `CONFIG_INVALID` naming the option (exit code 2), its cause the target's
 * `TARGET_CONFIG` error for a bad `--target`.
 */
export function parseTargetsConfig(raw: RawTargetOptions): TargetsConfig | undefined {
  const haproxySockets = [...new Set(raw.haproxySockets.map(haproxySocket))];
  const urls = raw.targets.map((value) => {
    try {
      const url = parseTargetUrl(value);
      // Each kind's own check of its URL (region, bucket, listener ARN, user and path), so that a bad value is an
      // invalid option at once rather than a failure of the daemon's start.
      const scheme = targetScheme(url);
      if (AWS_SCHEMES.includes(scheme)) parseAwsTargetUrl(url);
      else if (scheme === 'sftp') parseSftpUrl(url);
      return url;
    } catch (err) {
      throw invalid('--target', errorMessage(err).replace(/^--target /, ''), err);
    }
  });
  const seen = new Set<string>();
  for (const u of urls) {
    if (seen.has(u.href)) throw invalid('--target', `${shownTarget(u.href)} is given twice`);
    seen.add(u.href);
  }
  if (raw.awsEndpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(raw.awsEndpoint)) throw invalid('--aws-endpoint', `not an http(s) URL: ${JSON.stringify(raw.awsEndpoint)}`);
  const hasSftp = urls.some((u) => targetScheme(u) === 'sftp');
  let mode: number | undefined;
  if (raw.sftpMode !== undefined) {
    if (!/^0?[0-7]{3}$/.test(raw.sftpMode.trim())) throw invalid('--sftp-mode', `must be an octal file mode such as 600 or 0640 (got ${JSON.stringify(raw.sftpMode)})`);
    mode = parseInt(raw.sftpMode.trim(), 8);
  }
  const uid = id('--sftp-uid', raw.sftpUid);
  const gid = id('--sftp-gid', raw.sftpGid);
  if (hasSftp && !raw.sshKey) throw invalid('--ssh-key', 'required with an sftp:// target (the private key it logs in with)');
  if (hasSftp && !raw.sshKnownHosts) throw invalid('--ssh-known-hosts', 'required with an sftp:// target (the server keys it trusts)');
  if (haproxySockets.length === 0 && urls.length === 0) return undefined;
  const hasAws = urls.some((u) => AWS_SCHEMES.includes(targetScheme(u)));
  return {
    haproxySockets,
    urls,
    aws: {
      iamDeleteExpired: hasAws && raw.iamDeleteExpired,
      ...(raw.awsEndpoint ? { endpoint: raw.awsEndpoint } : {}),
      ...(raw.s3KmsKey ? { s3KmsKey: raw.s3KmsKey } : {}),
    },
    ...(hasSftp && raw.sshKey && raw.sshKnownHosts
      ? {
          sftp: {
            keyFile: raw.sshKey,
            knownHostsFile: raw.sshKnownHosts,
            ...(mode !== undefined ? { mode } : {}),
            ...(uid !== undefined ? { uid } : {}),
            ...(gid !== undefined ? { gid } : {}),
          },
        }
      : {}),
  };
}
