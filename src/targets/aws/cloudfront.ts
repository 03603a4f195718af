import {
  GetDistributionCommand,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
  type CloudFrontClient,
} from '@aws-sdk/client-cloudfront';
import { WhisperError } from '../../errors.js';
import type { Target } from '../types.js';
import type { AcmImporter } from './acm-importer.js';
import { ARN_MEMO, memoArn } from './acm.js';
import { awsCall } from './errors.js';
import { coversAliases, viewerCertificate, viewerUpToDate } from './cloudfront-plan.js';

/** How long to wait before trying a distribution that is not `Deployed` again. @default 5 minutes */
export const CLOUDFRONT_RETRY_MS = 5 * 60_000;

/**
 * `cloudfront://<distribution-id>[?id=<certificate id>]`: the certificate `id` (or, without it, the certificate
 * whose names cover every alias of the distribution) imported into ACM in us-east-1 (the shared importer) and set
 * as the distribution's viewer certificate (UpdateDistribution: ACM ARN, SNI, minimum protocol). A renewal
 * re-imported into the same ARN needs no update. A distribution still deploying a change (not `Deployed`) is never
 * updated: a retryable error asks for a try a few minutes later. Other certificates are a no-op.
 */
export function cloudfrontTarget(
  name: string,
  spec: { readonly distributionId: string; readonly id?: string },
  importer: AcmImporter,
  client: CloudFrontClient,
): Target {
  const Id = spec.distributionId;
  return {
    name,
    async deliver(item, ctx, signal) {
      const what = `${name} ${item.id}`;
      if (spec.id !== undefined && item.id !== spec.id) {
        return { detail: `not this distribution's certificate (${spec.id})` };
      }
      const dist = await awsCall(`${what}: GetDistribution`, () =>
        client.send(new GetDistributionCommand({ Id }), { abortSignal: signal }),
      );
      const config = dist.Distribution?.DistributionConfig;
      if (spec.id === undefined && !coversAliases(item.names, config?.Aliases?.Items ?? [])) {
        return { detail: 'does not cover the distribution aliases' };
      }
      const imported = await importer.ensure(item, memoArn(ctx.memo), name, ctx.log, signal);
      const memo = { [ARN_MEMO]: imported.arn };
      if (viewerUpToDate(config?.ViewerCertificate, imported.arn)) {
        return { memo, detail: `distribution has ${imported.arn} (${imported.action})` };
      }
      const status = dist.Distribution?.Status;
      if (status !== 'Deployed') {
        const state = status ?? 'in an unknown state';
        throw new WhisperError('TARGET_AWS', `${what}: distribution is ${state}, not Deployed: not updated yet`, {
          retryable: true,
          retryAfter: new Date(ctx.now() + CLOUDFRONT_RETRY_MS),
        });
      }
      const current = await awsCall(`${what}: GetDistributionConfig`, () =>
        client.send(new GetDistributionConfigCommand({ Id }), { abortSignal: signal }),
      );
      if (!current.DistributionConfig || !current.ETag) {
        throw new WhisperError('TARGET_AWS', `${what}: GetDistributionConfig returned no config or ETag`, {
          retryable: true,
        });
      }
      const next = {
        ...current.DistributionConfig,
        ViewerCertificate: viewerCertificate(imported.arn, current.DistributionConfig.ViewerCertificate),
      };
      await awsCall(`${what}: UpdateDistribution`, () =>
        client.send(new UpdateDistributionCommand({ Id, IfMatch: current.ETag, DistributionConfig: next }), {
          abortSignal: signal,
        }),
      );
      return { memo, detail: `viewer certificate set to ${imported.arn}` };
    },
  };
}
