import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { ACMClient, GetCertificateCommand } from '@aws-sdk/client-acm';
import { CloudFrontClient, CreateDistributionCommand, GetDistributionConfigCommand } from '@aws-sdk/client-cloudfront';
import { X509Certificate } from 'node:crypto';
import { isWhisperError, type WhisperError } from '../../src/errors.js';
import { CLOUDFRONT_RETRY_MS } from '../../src/targets/aws/cloudfront.js';
import { awsTargetsFromUrls } from '../../src/targets/aws/factory.js';
import { awsTargetUrl } from '../../src/targets/aws/urls.js';
import type { Target } from '../../src/targets/types.js';
import { ctx, fakeAwsCredentials, motoTransition, never, testCa, uniq, type TestCa } from './target-aws-helpers.js';
import '../support/env-types.js';

const env = inject('env');
const endpoint = env.route53.endpoint;
const MODEL = 'cloudfront::distribution';
let ca: TestCa;
const targets: Target[] = [];
const sdk = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } };
const cf = new CloudFrontClient(sdk);
const acm = new ACMClient(sdk);

beforeAll(async () => {
  fakeAwsCredentials();
  ca = await testCa();
});

afterAll(async () => {
  await motoTransition(endpoint, MODEL);
  for (const t of targets) await t.close?.();
  await ca?.close();
  cf.destroy();
  acm.destroy();
});

function make(url: string): Target {
  const [t] = awsTargetsFromUrls([awsTargetUrl(url)], { endpoint, maxAttempts: 1 });
  targets.push(t!);
  return t!;
}

async function distribution(aliases: string[]): Promise<string> {
  const d = await cf.send(
    new CreateDistributionCommand({
      DistributionConfig: {
        CallerReference: `whisper-${uniq()}`,
        Comment: 'whisper-ts test',
        Enabled: true,
        Aliases: { Quantity: aliases.length, Items: aliases },
        Origins: {
          Quantity: 1,
          Items: [
            {
              Id: 'o1',
              DomainName: 'origin.example.com',
              CustomOriginConfig: { HTTPPort: 80, HTTPSPort: 443, OriginProtocolPolicy: 'https-only' },
            },
          ],
        },
        DefaultCacheBehavior: {
          TargetOriginId: 'o1',
          ViewerProtocolPolicy: 'redirect-to-https',
          ForwardedValues: { QueryString: false, Cookies: { Forward: 'none' } },
          MinTTL: 0,
          TrustedSigners: { Enabled: false, Quantity: 0 },
        },
      },
    }),
  );
  return d.Distribution!.Id!;
}

async function viewer(id: string) {
  return (await cf.send(new GetDistributionConfigCommand({ Id: id }))).DistributionConfig!.ViewerCertificate!;
}

describe('cloudfront://<distribution-id> on moto', () => {
  it('waits while the distribution is InProgress, then sets the us-east-1 ACM certificate; a renewal re-imports', async () => {
    const host = `cdn-${uniq()}.example.com`;
    // moto moves a distribution to Deployed on the first read unless told otherwise: hold it InProgress for 2 reads.
    await motoTransition(endpoint, MODEL, { progression: 'manual', times: 2 });
    let distId: string;
    try {
      distId = await distribution([host]);
      const t = make(`cloudfront://${distId}`);
      const first = await ca.leaf(host, [host]);
      const now = Date.parse('2026-12-02T12:00:00Z');
      const err = await t.deliver(first, ctx({}, () => now), never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
      expect((err as WhisperError).retryable).toBe(true);
      expect((err as WhisperError).retryAfter?.getTime()).toBe(now + CLOUDFRONT_RETRY_MS);
      expect((err as Error).message).toContain('InProgress');
      expect((await viewer(distId)).CloudFrontDefaultCertificate).toBe(true);
    } finally {
      await motoTransition(endpoint, MODEL);
    }

    const t = make(`cloudfront://${distId}`);
    const first = await ca.leaf(host, [host]);
    const out = await t.deliver(first, ctx(), never);
    const arn = String(out!.memo!.arn);
    expect(arn).toMatch(/^arn:aws:acm:us-east-1:/);
    expect(out!.detail).toBe(`viewer certificate set to ${arn}`);
    expect(await viewer(distId)).toMatchObject({
      ACMCertificateArn: arn,
      SSLSupportMethod: 'sni-only',
      MinimumProtocolVersion: 'TLSv1.2_2021',
      CloudFrontDefaultCertificate: false,
    });

    const renewed = await ca.leaf(host, [host]);
    const out2 = await t.deliver(renewed, ctx(out!.memo), never);
    expect(out2!.memo!.arn).toBe(arn);
    expect(out2!.detail).toBe(`distribution has ${arn} (reimported)`);
    const pem = (await acm.send(new GetCertificateCommand({ CertificateArn: arn }))).Certificate!;
    expect(new X509Certificate(pem).serialNumber.toUpperCase()).toBe(renewed.serial);
  });

  it('a certificate that does not cover the aliases, or another id than ?id=, is a no-op', async () => {
    const host = `al-${uniq()}.example.com`;
    const distId = await distribution([host, `www.${host}`]);
    const t = make(`cloudfront://${distId}`);
    const partial = await ca.leaf(host, [host]);
    expect((await t.deliver(partial, ctx(), never))!.detail).toContain('does not cover');
    const both = await ca.leaf(`b-${host}`, [host, `www.${host}`]);
    expect((await t.deliver(both, ctx(), never))!.detail).toContain('viewer certificate set');

    const pinned = make(`cloudfront://${distId}?id=pinned.example.com`);
    expect((await pinned.deliver(both, ctx(), never))!.detail).toContain("not this distribution's certificate");
  });

  it('a missing distribution is a TARGET_AWS error that retrying cannot help', async () => {
    const t = make('cloudfront://ENOSUCHDIST');
    const host = `nd-${uniq()}.example.com`;
    const err = await t.deliver(await ca.leaf(host, [host]), ctx(), never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
    expect((err as Error).message).toContain('NoSuchDistribution');
    expect((err as WhisperError).retryable).toBe(false);
  });
});
