import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Target } from '../types.js';
import { awsCall, awsErrorName } from './errors.js';
import { s3Encryption, s3ObjectKeys, s3Objects, s3UpToDate } from './s3-plan.js';

/** The user metadata key (`x-amz-meta-whisper-serial`) holding the certificate's serial on every object. */
export const S3_SERIAL_META = 'whisper-serial';

/**
 * `s3://<bucket>/<prefix>`: each certificate as `<prefix>/<id>/privkey.pem`, `cert.pem`, `chain.pem`,
 * `fullchain.pem` and `<id>.pem` (HAProxy's combined PEM), encrypted with SSE-KMS (`--s3-kms-key`) or AES256,
 * the serial in each object's metadata. A removal deletes the five objects.
 */
export function s3Target(
  name: string,
  spec: { readonly bucket: string; readonly prefix: string },
  client: S3Client,
  kmsKey: string | undefined,
): Target {
  const sse = s3Encryption(kmsKey);
  return {
    name,
    async deliver(item, _ctx, signal) {
      const what = `${name} ${item.id}`;
      const keys = s3ObjectKeys(spec.prefix, item.id);
      let head: { serial?: string; sse?: string; kmsKeyId?: string } | undefined;
      try {
        const h = await client.send(new HeadObjectCommand({ Bucket: spec.bucket, Key: keys.bundle }), {
          abortSignal: signal,
        });
        head = {
          ...(h.Metadata?.[S3_SERIAL_META] ? { serial: h.Metadata[S3_SERIAL_META].toUpperCase() } : {}),
          ...(h.ServerSideEncryption ? { sse: h.ServerSideEncryption } : {}),
          ...(h.SSEKMSKeyId ? { kmsKeyId: h.SSEKMSKeyId } : {}),
        };
      } catch (err) {
        const n = awsErrorName(err);
        if (n !== 'NotFound' && n !== 'NoSuchKey') {
          return awsCall(`${what}: HeadObject s3://${spec.bucket}/${keys.bundle}`, () => Promise.reject(err));
        }
      }
      if (s3UpToDate(head, item.serial, kmsKey)) return { detail: `s3://${spec.bucket}/${keys.bundle} up to date` };
      for (const o of s3Objects(spec.prefix, item)) {
        await awsCall(`${what}: PutObject s3://${spec.bucket}/${o.key}`, () =>
          client.send(
            new PutObjectCommand({
              Bucket: spec.bucket,
              Key: o.key,
              Body: o.body,
              ContentType: 'application/x-pem-file',
              Metadata: { [S3_SERIAL_META]: item.serial },
              ...sse,
            }),
            { abortSignal: signal },
          ),
        );
      }
      return { detail: `wrote s3://${spec.bucket}/${keys.bundle} and 4 more (${sse.ServerSideEncryption})` };
    },
    async remove(item, _ctx, signal) {
      const keys = Object.values(s3ObjectKeys(spec.prefix, item.id));
      const out = await awsCall(`${name} ${item.id}: DeleteObjects`, () =>
        client.send(
          new DeleteObjectsCommand({
            Bucket: spec.bucket,
            Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
          }),
          { abortSignal: signal },
        ),
      );
      const failed = out.Errors ?? [];
      if (failed.length > 0) {
        return awsCall(`${name} ${item.id}: DeleteObjects`, () =>
          Promise.reject(Object.assign(new Error(`${failed.length} object(s) not deleted: ${failed[0]?.Code ?? ''}`), {
            name: failed[0]?.Code ?? 'DeleteObjectsError',
          })),
        );
      }
      return { detail: `deleted ${keys.length} objects` };
    },
  };
}
