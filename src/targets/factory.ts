import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { awsTargetsFromUrls } from './aws/factory.js';
import type { TargetsConfig } from './config.js';
import { createHaproxyTarget } from './haproxy.js';
import { checkSftpTargetOptions, createSftpTarget } from './sftp.js';
import type { Target } from './types.js';
import { AWS_SCHEMES, shownTarget, targetScheme } from './urls.js';

/** What {@link createTargets} needs besides the target options. */
export interface TargetFactoryOptions {
  /** The certificate folder (HAProxy's `crt <folder>`). */
  readonly certDir: string;
  readonly log: Logger;
}

/**
 * Builds the delivery targets of the configuration: one HAProxy target per `--haproxy-socket`, the AWS targets of
 * the `--target` URLs of their schemes (`targets/aws/factory.ts`), one SFTP target per `sftp://` URL. The order is
 * that of the options. Nothing is contacted here.
 * @throws WhisperError `TARGET_CONFIG` naming the option value a target refused, or two targets of the same name.
 */
export function createTargets(config: TargetsConfig | undefined, options: TargetFactoryOptions): Target[] {
  if (!config) return [];
  const log = options.log;
  const targets: Target[] = [];
  const named = (option: string, value: string, build: () => Target[]): void => {
    try {
      targets.push(...build());
    } catch (err) {
      if (isWhisperError(err, 'TARGET_CONFIG') && err.message.includes(value)) throw err;
      throw new WhisperError('TARGET_CONFIG', `${option} ${value}: ${errorMessage(err)}`, { cause: err });
    }
  };
  for (const socket of config.haproxySockets) {
    named('--haproxy-socket', socket, () => [createHaproxyTarget({ socket, certFolder: options.certDir, log: log.child({ target: `haproxy:${socket}` }) })]);
  }
  const aws = config.urls.filter((u) => AWS_SCHEMES.includes(targetScheme(u)));
  if (aws.length > 0) {
    named('--target', aws.map((u) => shownTarget(u.href)).join(' '), () =>
      awsTargetsFromUrls(aws, {
        iamDeleteExpired: config.aws.iamDeleteExpired,
        ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
        ...(config.aws.s3KmsKey ? { s3KmsKey: config.aws.s3KmsKey } : {}),
        log: log.child({ component: 'aws' }),
      }),
    );
  }
  for (const url of config.urls.filter((u) => targetScheme(u) === 'sftp')) {
    const sftp = config.sftp;
    if (!sftp) throw new WhisperError('TARGET_CONFIG', `--target ${shownTarget(url.href)}: needs --ssh-key and --ssh-known-hosts`);
    named('--target', shownTarget(url.href), () => [
      createSftpTarget(url, {
        keyFile: sftp.keyFile,
        knownHostsFile: sftp.knownHostsFile,
        ...(sftp.mode !== undefined ? { mode: sftp.mode } : {}),
        ...(sftp.uid !== undefined ? { uid: sftp.uid } : {}),
        ...(sftp.gid !== undefined ? { gid: sftp.gid } : {}),
        log: log.child({ target: shownTarget(url.href) }),
      }),
    ]);
  }
  const names = new Set<string>();
  for (const t of targets) {
    if (names.has(t.name)) throw new WhisperError('TARGET_CONFIG', `two targets are the same destination: ${t.name}`);
    names.add(t.name);
  }
  return targets;
}

/**
 * What can be checked of the targets before anything runs, without contacting them: the SFTP targets' key and
 * known_hosts files (readable, unencrypted key, a key pinned for the host). A mistake there would otherwise show
 * only at the first delivery, after a certificate was ordered.
 * @throws WhisperError `CONFIG_INVALID` (exit code 2) naming the option, its `TARGET_CONFIG` error as the cause.
 */
export async function checkTargetsAtStart(config: TargetsConfig | undefined, log: Logger): Promise<void> {
  const sftp = config?.sftp;
  if (!config || !sftp) return;
  for (const url of config.urls.filter((u) => targetScheme(u) === 'sftp')) {
    try {
      await checkSftpTargetOptions(url, {
        keyFile: sftp.keyFile,
        knownHostsFile: sftp.knownHostsFile,
        log: log.child({ target: shownTarget(url.href) }),
      });
    } catch (err) {
      if (!isWhisperError(err, 'TARGET_CONFIG')) throw err;
      throw new WhisperError('CONFIG_INVALID', err.message, { cause: err });
    }
  }
}

/**
 * {@link createTargets} for the daemon's start: a target the configuration cannot build is an invalid option
 * (`CONFIG_INVALID`, exit code 2), its `TARGET_CONFIG` error as the cause.
 */
export function targetsAtStart(config: TargetsConfig | undefined, options: TargetFactoryOptions): Target[] {
  try {
    return createTargets(config, options);
  } catch (err) {
    if (!isWhisperError(err, 'TARGET_CONFIG')) throw err;
    throw new WhisperError('CONFIG_INVALID', err.message, { cause: err });
  }
}
