import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isWhisperError } from '../../src/errors.js';
import { awsTargetsFromUrls } from '../../src/targets/aws/factory.js';
import { s3ObjectKeys } from '../../src/targets/aws/s3-plan.js';
import { awsTargetUrl } from '../../src/targets/aws/urls.js';
import type { Target } from '../../src/targets/types.js';
import { startHttpFaultProxy, type HttpFaultProxy } from '../support/http-fault-proxy.js';
import { ctx, fakeAwsCredentials, faultTimes, motoKmsKey, never, testCa, uniq, xmlServerError, type TestCa } from './target-aws-helpers.js';
import '../support/env-types.js';

const env = inject('env');
const endpoint = env.route53.endpoint;
const region = 'eu-west-1';
let ca: TestCa;
let proxy: HttpFaultProxy;
let bucket: string;
let kmsKey: string;
const targets: Target[] = [];
const s3 = new S3Client({
  endpoint,
  region,
  forcePathStyle: true,
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
});

beforeAll(async () => {
  fakeAwsCredentials();
  ca = await testCa();
  proxy = await startHttpFaultProxy(endpoint);
  bucket = `whisper-certs-${uniq()}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region } }));
  kmsKey = await motoKmsKey(endpoint, region);
});

afterAll(async () => {
  for (const t of targets) await t.close?.();
  await proxy?.close();
  await ca?.close();
  s3.destroy();
});

function make(url: string, opts: { through?: string; s3KmsKey?: string } = {}): Target {
  const [t] = awsTargetsFromUrls([awsTargetUrl(url)], {
    endpoint: opts.through ?? endpoint,
    region,
    maxAttempts: 1,
    ...(opts.s3KmsKey ? { s3KmsKey: opts.s3KmsKey } : {}),
  });
  targets.push(t!);
  return t!;
}

async function body(key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return got.Body!.transformToString();
}

const puts = (p: HttpFaultProxy) => p.seen.filter((r) => r.method === 'PUT').length;

describe('s3://<bucket>/<prefix> on moto', () => {
  it('writes key, cert, chain, fullchain and the HAProxy bundle with SSE-KMS; a renewal replaces them', async () => {
    const prefix = `prod-${uniq()}`;
    const t = make(`s3://${bucket}/${prefix}/`, { s3KmsKey: kmsKey });
    const id = `www-${uniq()}.example.com`;
    const keys = s3ObjectKeys(prefix, id);
    const first = await ca.leaf(id, [id]);
    await t.deliver(first, ctx(), never);
    expect(await body(keys.privkey)).toBe(first.key);
    expect(await body(keys.cert)).toBe(first.cert);
    expect(await body(keys.chain)).toBe(first.chain);
    expect(await body(keys.fullchain)).toBe(first.cert + first.chain);
    expect(await body(keys.bundle)).toBe(first.key + first.cert + first.chain);
    for (const k of Object.values(keys)) {
      const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: k }));
      expect(h.ServerSideEncryption).toBe('aws:kms');
      expect(h.SSEKMSKeyId).toBe(kmsKey);
      expect(h.Metadata?.['whisper-serial']).toBe(first.serial);
    }

    const renewed = await ca.leaf(id, [id]);
    await t.deliver(renewed, ctx(), never);
    expect(await body(keys.bundle)).toBe(renewed.key + renewed.cert + renewed.chain);
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keys.privkey }));
    expect(h.Metadata?.['whisper-serial']).toBe(renewed.serial);
    expect(h.ServerSideEncryption).toBe('aws:kms');
  });

  it('AES256 without a KMS key; the same serial again writes nothing; switching to KMS rewrites', async () => {
    const prefix = `aes-${uniq()}`;
    const t = make(`s3://${bucket}/${prefix}`, { through: proxy.url });
    const id = `a-${uniq()}.example.com`;
    const keys = s3ObjectKeys(prefix, id);
    const item = await ca.leaf(id, [id]);
    await t.deliver(item, ctx(), never);
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keys.cert }));
    expect(h.ServerSideEncryption).toBe('AES256');
    const before = puts(proxy);
    const again = await t.deliver(item, ctx(), never);
    expect(again!.detail).toContain('up to date');
    expect(puts(proxy)).toBe(before);

    const kmsT = make(`s3://${bucket}/${prefix}`, { s3KmsKey: kmsKey });
    await kmsT.deliver(item, ctx(), never);
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keys.privkey }));
    expect(h2.ServerSideEncryption).toBe('aws:kms');
  });

  it('a 500 is a retryable TARGET_AWS error naming the object; the next call succeeds', async () => {
    const prefix = `f-${uniq()}`;
    const t = make(`s3://${bucket}/${prefix}`, { through: proxy.url });
    const id = `f-${uniq()}.example.com`;
    const item = await ca.leaf(id, [id]);
    proxy.fault = faultTimes(1, xmlServerError);
    const err = await t.deliver(item, ctx(), never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    expect((err as Error).message).toContain(`s3://${bucket}/${prefix} ${id}: HeadObject`);
    await t.deliver(item, ctx(), never);
    expect(await body(s3ObjectKeys(prefix, id).cert)).toBe(item.cert);
  });

  it('a missing bucket is a TARGET_AWS error that retrying cannot help', async () => {
    const t = make(`s3://nobucket-${uniq()}/p`);
    const id = `nb-${uniq()}.example.com`;
    const err = await t.deliver(await ca.leaf(id, [id]), ctx(), never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(false);
  });

  it('removal deletes the five objects; repeating it succeeds', async () => {
    const prefix = `rm-${uniq()}`;
    const t = make(`s3://${bucket}/${prefix}`);
    const id = `rm-${uniq()}.example.com`;
    await t.deliver(await ca.leaf(id, [id]), ctx(), never);
    await t.remove!({ id, path: '/gone' }, ctx(), never);
    for (const k of Object.values(s3ObjectKeys(prefix, id))) {
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: k }))).rejects.toThrow();
    }
    await t.remove!({ id, path: '/gone' }, ctx(), never);
  });
});
