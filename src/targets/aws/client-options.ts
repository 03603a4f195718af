import type { Logger } from '../../log.js';

/** Options of the AWS targets, from the command line (`--aws-endpoint`, `--s3-kms-key`, `--iam-delete-expired`). */
export interface AwsTargetOptions {
  /** AWS API endpoint of every AWS target, for emulators (`--aws-endpoint`). @default the AWS endpoints */
  endpoint?: string;
  /** Region of the targets whose URL names none (`elb://`, `s3://`). @default the SDK's (AWS_REGION, profile) */
  region?: string;
  /** KMS key (ARN or id) of the objects `s3://` targets write (SSE-KMS). @default none: AES256 */
  s3KmsKey?: string;
  /** Delete expired IAM server certificates whisper-ts uploaded (under its path) that nothing uses. @default false */
  iamDeleteExpired?: boolean;
  /** Attempts of the SDK per call before the error reaches the delivery manager (which retries later). @default 3 */
  maxAttempts?: number;
  log?: Logger;
}

/** What every SDK client of the AWS targets is built with. */
export interface SdkClientConfig {
  region?: string;
  endpoint?: string;
  maxAttempts: number;
}

/** The config of one SDK client in `region` (credentials: the SDK's default chain). */
export function sdkConfig(options: AwsTargetOptions, region: string | undefined): SdkClientConfig {
  return {
    maxAttempts: options.maxAttempts ?? 3,
    ...(region ? { region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  };
}

/** Something with SDK sockets to release. */
export interface Destroyable {
  destroy(): void;
}

/** One SDK client per key (service and region), made when first asked for, all destroyed together. */
export interface ClientPool {
  /** The client under `key`, made by `make` the first time. */
  get<T extends Destroyable>(key: string, make: () => T): T;
  /** Destroys every client; the next `get` makes new ones. */
  destroy(): void;
}

/** A new, empty {@link ClientPool}. */
export function clientPool(): ClientPool {
  const clients = new Map<string, Destroyable>();
  return {
    get<T extends Destroyable>(key: string, make: () => T): T {
      let client = clients.get(key);
      if (!client) {
        client = make();
        clients.set(key, client);
      }
      return client as T;
    },
    destroy() {
      for (const c of clients.values()) c.destroy();
      clients.clear();
    },
  };
}
