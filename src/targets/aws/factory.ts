import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { WhisperError } from '../../errors.js';
import type { Target } from '../types.js';
import { acmTarget } from './acm.js';
import { createAcmImporter, type AcmImporter } from './acm-importer.js';
import { clientPool, sdkConfig, type AwsTargetOptions } from './client-options.js';
import { cloudfrontTarget } from './cloudfront.js';
import { classicCertsInUse, elbTarget } from './elb.js';
import { elbv2Target } from './elbv2.js';
import { createIamUploader, iamTarget, sweepExpired, type IamUploader } from './iam.js';
import { s3Target } from './s3.js';
import { DEFAULT_IAM_PATH, parseAwsTargetUrl, type AwsTargetSpec } from './urls.js';

export type { AwsTargetOptions } from './client-options.js';

/** IAM, CloudFront and the ACM certificates of CloudFront live in us-east-1. */
const GLOBAL_REGION = 'us-east-1';

/**
 * The targets of the AWS `--target` URLs (`acm:`, `elbv2:`, `iam:`, `elb:`, `s3:`, `cloudfront:`), one per URL.
 * How they combine:
 * - `acm://<region>`, `elbv2://<listener-arn>` and `cloudfront://<id>` share one ACM importer per region (a
 *   listener's region, us-east-1 for CloudFront), so each serial is imported once per region and a certificate
 *   keeps one ARN there.
 * - `elb://<name>[:port]?id=<certificate id>` uploads into IAM itself (it implies `iam://`), sharing the uploader
 *   and its path with an `iam://` target when there is one.
 * - `--iam-delete-expired` sweeps the IAM path (from the `iam://` target, else the first `elb://` one); it needs one
 *   of them.
 * Throws `TARGET_CONFIG` naming the URL for a bad URL, a target given twice, or two `iam://` paths.
 */
export function awsTargetsFromUrls(urls: readonly URL[], options: AwsTargetOptions = {}): Target[] {
  const specs = urls.map((u) => parseAwsTargetUrl(u));
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new WhisperError('TARGET_CONFIG', `--target ${s.name}: given twice`);
    seen.add(s.name);
  }
  const iamSpecs = specs.filter((s): s is Extract<AwsTargetSpec, { kind: 'iam' }> => s.kind === 'iam');
  if (iamSpecs.length > 1) {
    throw new WhisperError('TARGET_CONFIG', `--target ${iamSpecs[1]!.name}: only one iam:// target (one IAM path)`);
  }
  const elbSpecs = specs.filter((s): s is Extract<AwsTargetSpec, { kind: 'elb' }> => s.kind === 'elb');
  if (options.iamDeleteExpired && iamSpecs.length === 0 && elbSpecs.length === 0) {
    throw new WhisperError('TARGET_CONFIG', '--iam-delete-expired needs an iam:// or elb:// target');
  }

  const pool = clientPool();
  const acm = new Map<string, AcmImporter>();
  const importer = (region: string): AcmImporter => {
    let i = acm.get(region);
    if (!i) {
      i = createAcmImporter(pool.get(`acm:${region}`, () => new ACMClient(sdkConfig(options, region))), region);
      acm.set(region, i);
    }
    return i;
  };
  const iamPath = iamSpecs[0]?.path ?? DEFAULT_IAM_PATH;
  let uploader: IamUploader | undefined;
  const iamUploader = (): IamUploader =>
    (uploader ??= createIamUploader(
      pool.get('iam', () => new IAMClient(sdkConfig(options, GLOBAL_REGION))),
      iamPath,
    ));
  const classic = (region: string | undefined) =>
    pool.get(`elb:${region ?? ''}`, () => new ElasticLoadBalancingClient(sdkConfig(options, region)));

  // The sweep counts as in use what the classic listeners of every region we deliver to hold.
  const elbRegions = [...new Set(elbSpecs.map((s) => s.region ?? options.region))];
  const sweep = options.iamDeleteExpired
    ? (now: number, log: Parameters<typeof sweepExpired>[3], signal: AbortSignal) =>
        sweepExpired(
          iamUploader(),
          async (sig) => {
            const inUse = new Set<string>();
            for (const r of elbRegions) for (const a of await classicCertsInUse(classic(r), sig)) inUse.add(a);
            return inUse;
          },
          now,
          log,
          signal,
        )
    : undefined;
  let sweepOwner = iamSpecs[0]?.name ?? elbSpecs[0]?.name;

  let open = specs.length;
  const close = async () => {
    open -= 1;
    if (open === 0) pool.destroy();
  };

  options.log?.debug({ targets: specs.map((s) => s.name) }, 'AWS targets');
  return specs.map((spec): Target => {
    let t: Target;
    switch (spec.kind) {
      case 'acm':
        t = acmTarget(importer(spec.region));
        break;
      case 'elbv2':
        t = elbv2Target(
          spec.name,
          spec.listenerArn,
          importer(spec.region),
          pool.get(`elbv2:${spec.region}`, () => new ElasticLoadBalancingV2Client(sdkConfig(options, spec.region))),
        );
        break;
      case 'iam':
        t = iamTarget(spec.name, iamUploader());
        break;
      case 'elb':
        t = elbTarget(spec.name, spec, iamUploader(), classic(spec.region ?? options.region));
        break;
      case 's3': {
        const region = spec.region ?? options.region;
        const client = pool.get(
          `s3:${region ?? ''}`,
          () =>
            new S3Client({
              ...sdkConfig(options, region),
              followRegionRedirects: true,
              ...(options.endpoint ? { forcePathStyle: true } : {}),
            }),
        );
        t = s3Target(spec.name, spec, client, options.s3KmsKey);
        break;
      }
      case 'cloudfront':
        t = cloudfrontTarget(
          spec.name,
          spec,
          importer(GLOBAL_REGION),
          pool.get('cloudfront', () => new CloudFrontClient(sdkConfig(options, GLOBAL_REGION))),
        );
        break;
    }
    if (sweep && spec.name === sweepOwner) {
      sweepOwner = undefined;
      t = { ...t, sweep: (ctx, signal) => sweep(ctx.now(), ctx.log, signal) };
    }
    return { ...t, close };
  });
}
