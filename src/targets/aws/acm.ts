import { DeleteCertificateCommand, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { WhisperError } from '../../errors.js';
import type { Target } from '../types.js';
import type { AcmImporter } from './acm-importer.js';
import { awsCall, awsErrorName } from './errors.js';

/** The memo key of the ACM ARN, kept per certificate by `acm://`, `elbv2://` and `cloudfront://` targets. */
export const ARN_MEMO = 'arn';

/** The ARN a target recorded for a certificate, if any. */
export function memoArn(memo: Readonly<Record<string, unknown>>): string | undefined {
  const v = memo[ARN_MEMO];
  return typeof v === 'string' && v.startsWith('arn:') ? v : undefined;
}

/**
 * `acm://<region>`: every certificate imported into ACM there (ImportCertificate), a renewal re-imported into the
 * same ARN so that whatever uses it (listeners, distributions) keeps it. The ARN is the memo. A removed
 * certificate is deleted from ACM once nothing uses it (retried while something does).
 */
export function acmTarget(importer: AcmImporter): Target {
  const name = `acm://${importer.region}`;
  return {
    name,
    async deliver(item, ctx, signal) {
      const done = await importer.ensure(item, memoArn(ctx.memo), name, ctx.log, signal);
      const detail =
        done.action === 'none' ? `already in ${done.arn}` : `${done.action} into ${done.arn}`;
      return { memo: { [ARN_MEMO]: done.arn }, detail };
    },
    async remove(item, ctx, signal) {
      const arn = memoArn(ctx.memo);
      if (!arn) return { detail: 'nothing recorded' };
      const what = `${name} ${item.id}`;
      let inUse: string[];
      try {
        const d = await importer.client.send(new DescribeCertificateCommand({ CertificateArn: arn }), {
          abortSignal: signal,
        });
        inUse = d.Certificate?.InUseBy ?? [];
      } catch (err) {
        if (awsErrorName(err) === 'ResourceNotFoundException') {
          importer.forget(item.id);
          return { memo: {}, detail: `${arn} already gone` };
        }
        return awsCall(`${what}: DescribeCertificate ${arn}`, () => Promise.reject(err));
      }
      if (inUse.length > 0) {
        const users = `${inUse.length} resource(s)`;
        throw new WhisperError('TARGET_AWS', `${what}: ${arn} is still used by ${users}: not deleted yet`, {
          retryable: true,
        });
      }
      try {
        await importer.client.send(new DeleteCertificateCommand({ CertificateArn: arn }), { abortSignal: signal });
      } catch (err) {
        if (awsErrorName(err) === 'ResourceInUseException') {
          throw new WhisperError('TARGET_AWS', `${what}: ${arn} is still in use: not deleted yet`, {
            retryable: true,
            cause: err,
          });
        }
        if (awsErrorName(err) !== 'ResourceNotFoundException') {
          return awsCall(`${what}: DeleteCertificate ${arn}`, () => Promise.reject(err));
        }
      }
      importer.forget(item.id);
      return { memo: {}, detail: `deleted ${arn}` };
    },
  };
}
