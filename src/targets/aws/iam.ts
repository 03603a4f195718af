import {
  DeleteServerCertificateCommand,
  GetServerCertificateCommand,
  ListServerCertificatesCommand,
  UploadServerCertificateCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { WhisperError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { DeliveryItem, Target } from '../types.js';
import { awsCall, awsErrorName } from './errors.js';
import { expiredToDelete, iamCertName, type IamCertMeta } from './iam-plan.js';

/** The memo keys of `iam://` and `elb://` targets: the IAM certificate name and ARN. */
export const IAM_NAME_MEMO = 'iamName';
export const IAM_ARN_MEMO = 'iamArn';

/** What {@link IamUploader.ensure} did. */
export interface IamUpload {
  readonly name: string;
  readonly arn: string;
  readonly uploaded: boolean;
}

/** Uploads server certificates into IAM under one path, shared by `iam://` and `elb://` targets. */
export interface IamUploader {
  readonly path: string;
  /**
   * Uploads `item` as {@link iamCertName}, unless a certificate of that name is there already. Safe to repeat.
   * `who` (the calling target's name) starts error messages.
   */
  ensure(item: DeliveryItem, who: string, signal: AbortSignal): Promise<IamUpload>;
  /** Our certificates (under the path), every page. */
  list(signal: AbortSignal): Promise<IamCertMeta[]>;
  /** Deletes one; `false` when IAM says it is in use (DeleteConflict), `true` when deleted or already gone. */
  delete(name: string, signal: AbortSignal): Promise<boolean>;
}

/** A new {@link IamUploader}. */
export function createIamUploader(client: IAMClient, path: string): IamUploader {
  const where = `iam://${path}`;
  const arnOf = async (name: string, what: string, signal: AbortSignal): Promise<string | undefined> => {
    try {
      const got = await client.send(new GetServerCertificateCommand({ ServerCertificateName: name }), {
        abortSignal: signal,
      });
      return got.ServerCertificate?.ServerCertificateMetadata?.Arn;
    } catch (err) {
      if (awsErrorName(err) === 'NoSuchEntityException' || awsErrorName(err) === 'NoSuchEntity') return undefined;
      return awsCall(`${what}: GetServerCertificate ${name}`, () => Promise.reject(err));
    }
  };
  return {
    path,
    async ensure(item, who, signal) {
      const name = iamCertName(item.id, item.serial);
      const what = `${who} ${item.id}`;
      const found = await arnOf(name, what, signal);
      if (found) return { name, arn: found, uploaded: false };
      try {
        const out = await client.send(
          new UploadServerCertificateCommand({
            ServerCertificateName: name,
            Path: path,
            CertificateBody: item.cert,
            PrivateKey: item.key,
            ...(item.chain.trim() ? { CertificateChain: item.chain } : {}),
          }),
          { abortSignal: signal },
        );
        const arn = out.ServerCertificateMetadata?.Arn ?? (await arnOf(name, what, signal));
        if (arn) return { name, arn, uploaded: true };
      } catch (err) {
        // Uploaded by a call whose answer was lost: it is ours.
        const name2 = awsErrorName(err);
        if (name2 !== 'EntityAlreadyExistsException' && name2 !== 'EntityAlreadyExists') {
          return awsCall(`${what}: UploadServerCertificate ${name}`, () => Promise.reject(err));
        }
      }
      const arn = await arnOf(name, what, signal);
      if (!arn) {
        throw new WhisperError('TARGET_AWS', `${what}: ${name} uploaded but not found yet`, {
          retryable: true,
        });
      }
      return { name, arn, uploaded: false };
    },
    async list(signal) {
      const out: IamCertMeta[] = [];
      let marker: string | undefined;
      do {
        const page = await awsCall(`${where}: ListServerCertificates`, () =>
          client.send(new ListServerCertificatesCommand({ PathPrefix: path, ...(marker ? { Marker: marker } : {}) }), {
            abortSignal: signal,
          }),
        );
        for (const m of page.ServerCertificateMetadataList ?? []) {
          if (!m.ServerCertificateName || !m.Arn) continue;
          out.push({
            name: m.ServerCertificateName,
            arn: m.Arn,
            path: m.Path ?? '/',
            ...(m.Expiration ? { expiration: m.Expiration } : {}),
          });
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      return out;
    },
    async delete(name, signal) {
      try {
        await client.send(new DeleteServerCertificateCommand({ ServerCertificateName: name }), { abortSignal: signal });
        return true;
      } catch (err) {
        const n = awsErrorName(err);
        if (n === 'DeleteConflictException' || n === 'DeleteConflict') return false;
        if (n === 'NoSuchEntityException' || n === 'NoSuchEntity') return true;
        return awsCall(`${where}: DeleteServerCertificate ${name}`, () => Promise.reject(err));
      }
    },
  };
}

/**
 * Deletes the expired certificates under the uploader's path that no listener in `inUse` holds (and that IAM does
 * not call in use): letslambda's delete-expired, since IAM's quota of server certificates is small.
 */
export async function sweepExpired(
  uploader: IamUploader,
  inUse: (signal: AbortSignal) => Promise<ReadonlySet<string>>,
  now: number,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const doomed = expiredToDelete(await uploader.list(signal), uploader.path, await inUse(signal), now);
  for (const c of doomed) {
    if (await uploader.delete(c.name, signal)) log.info({ iamName: c.name }, 'deleted expired IAM server certificate');
    else log.info({ iamName: c.name }, 'expired IAM server certificate still in use: kept');
  }
}

/**
 * `iam://` (or `iam:///<path>/`): every certificate uploaded as an IAM server certificate under the path
 * (UploadServerCertificate, named after id and serial). The factory adds the `--iam-delete-expired` sweep.
 */
export function iamTarget(name: string, uploader: IamUploader): Target {
  return {
    name,
    async deliver(item, _ctx, signal) {
      const up = await uploader.ensure(item, name, signal);
      return {
        memo: { [IAM_NAME_MEMO]: up.name, [IAM_ARN_MEMO]: up.arn },
        detail: up.uploaded ? `uploaded ${up.arn}` : `already in ${up.arn}`,
      };
    },
  };
}
