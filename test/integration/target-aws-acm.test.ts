import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { ACMClient, DescribeCertificateCommand, GetCertificateCommand, ImportCertificateCommand, ListTagsForCertificateCommand } from '@aws-sdk/client-acm';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  DescribeListenerCertificatesCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { X509Certificate } from 'node:crypto';
import { isWhisperError } from '../../src/errors.js';
import { awsTargetsFromUrls } from '../../src/targets/aws/factory.js';
import { awsTargetUrl } from '../../src/targets/aws/urls.js';
import type { Target, TargetMemo } from '../../src/targets/types.js';
import { startHttpFaultProxy, type HttpFaultProxy } from '../support/http-fault-proxy.js';
import { ctx, fakeAwsCredentials, faultTimes, jsonThrottling, motoSubnets, never, testCa, uniq, type TestCa } from './target-aws-helpers.js';
import '../support/env-types.js';

const env = inject('env');
const endpoint = env.route53.endpoint;
const region = 'eu-west-1';
let ca: TestCa;
let proxy: HttpFaultProxy;
const targets: Target[] = [];
const sdk = { endpoint, region, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } };
const acm = new ACMClient(sdk);
const elbv2 = new ElasticLoadBalancingV2Client(sdk);

beforeAll(async () => {
  fakeAwsCredentials();
  ca = await testCa();
  proxy = await startHttpFaultProxy(endpoint);
});

afterAll(async () => {
  for (const t of targets) await t.close?.();
  await proxy?.close();
  await ca?.close();
  acm.destroy();
  elbv2.destroy();
});

function make(urls: string[], through = endpoint): Target[] {
  const made = awsTargetsFromUrls(urls.map(awsTargetUrl), { endpoint: through, maxAttempts: 1 });
  targets.push(...made);
  return made;
}

async function servedSerial(arn: string): Promise<string> {
  const got = await acm.send(new GetCertificateCommand({ CertificateArn: arn }));
  return new X509Certificate(got.Certificate!).serialNumber.toUpperCase();
}

/** An application load balancer with an HTTPS listener whose default certificate is some other one. */
async function httpsListener(): Promise<string> {
  const other = await ca.leaf('default', [`default-${uniq()}.example.com`]);
  const def = await acm.send(new ImportCertificateCommand({ Certificate: Buffer.from(other.cert), PrivateKey: Buffer.from(other.key) }));
  const lb = await elbv2.send(
    new CreateLoadBalancerCommand({ Name: `lb-${uniq()}`, Subnets: await motoSubnets(endpoint, region), Type: 'application' }),
  );
  const l = await elbv2.send(
    new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancers![0]!.LoadBalancerArn,
      Protocol: 'HTTPS',
      Port: 443,
      Certificates: [{ CertificateArn: def.CertificateArn }],
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200' } }],
    }),
  );
  return l.Listeners![0]!.ListenerArn!;
}

async function listenerCerts(listenerArn: string): Promise<string[]> {
  const out = await elbv2.send(new DescribeListenerCertificatesCommand({ ListenerArn: listenerArn }));
  return (out.Certificates ?? []).filter((c) => !c.IsDefault).map((c) => c.CertificateArn!);
}

describe('acm://<region> on moto', () => {
  it('imports, does nothing for the same serial, re-imports a renewal into the same ARN', async () => {
    const [t] = make([`acm://${region}`]);
    const id = `www-${uniq()}.example.com`;
    const first = await ca.leaf(id, [id]);
    const out1 = await t!.deliver(first, ctx(), never);
    const arn = String(out1!.memo!.arn);
    expect(arn).toMatch(/^arn:aws:acm:eu-west-1:/);
    expect(out1!.detail).toContain('imported into');
    expect(await servedSerial(arn)).toBe(first.serial);
    const tags = await acm.send(new ListTagsForCertificateCommand({ CertificateArn: arn }));
    expect(tags.Tags).toContainEqual({ Key: 'whisper-ts:id', Value: id });

    const again = await t!.deliver(first, ctx(out1!.memo), never);
    expect(again!.detail).toContain('already in');

    const renewed = await ca.leaf(id, [id]);
    const out2 = await t!.deliver({ ...renewed, previousSerial: first.serial }, ctx(out1!.memo), never);
    expect(out2!.memo!.arn).toBe(arn);
    expect(out2!.detail).toContain('reimported');
    expect(await servedSerial(arn)).toBe(renewed.serial);
  });

  it('a fresh process with no memo finds the ARN by its tag instead of importing twice', async () => {
    const id = `tag-${uniq()}.example.com`;
    const item = await ca.leaf(id, [id]);
    const [a] = make([`acm://${region}`]);
    const arn = String((await a!.deliver(item, ctx(), never))!.memo!.arn);
    const [b] = make([`acm://${region}`]);
    const out = await b!.deliver(item, ctx(), never);
    expect(out!.memo!.arn).toBe(arn);
    expect(out!.detail).toContain('already in');
  });

  it('throttling is a retryable TARGET_AWS error; the next call succeeds', async () => {
    const [t] = make([`acm://${region}`], proxy.url);
    const id = `thr-${uniq()}.example.com`;
    const item = await ca.leaf(id, [id]);
    proxy.fault = faultTimes(1, jsonThrottling);
    const err = await t!.deliver(item, ctx(), never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    expect((err as Error).message).toContain('ThrottlingException');
    const out = await t!.deliver(item, ctx(), never);
    expect(await servedSerial(String(out!.memo!.arn))).toBe(item.serial);
  });

  it('removal deletes the ACM certificate; repeating it succeeds', async () => {
    const [t] = make([`acm://${region}`]);
    const id = `rm-${uniq()}.example.com`;
    const out = await t!.deliver(await ca.leaf(id, [id]), ctx(), never);
    const memo = out!.memo!;
    const rm = await t!.remove!({ id, path: '/gone' }, ctx(memo), never);
    expect(rm!.detail).toContain('deleted');
    await expect(acm.send(new DescribeCertificateCommand({ CertificateArn: String(memo.arn) }))).rejects.toThrow();
    const rm2 = await t!.remove!({ id, path: '/gone' }, ctx(memo), never);
    expect(rm2!.detail).toContain('already gone');
  });
});

describe('elbv2://<listener-arn> on moto', () => {
  it('adds the certificate to the SNI list once, keeps it through a re-import, swaps a new ARN', async () => {
    const listener = await httpsListener();
    const [acmT, lbT] = make([`acm://${region}`, `elbv2://${listener}`]);
    const id = `alb-${uniq()}.example.com`;
    const first = await ca.leaf(id, [id]);

    // Both targets at once: one import (the shared importer), one ARN.
    const [a1, l1] = await Promise.all([acmT!.deliver(first, ctx(), never), lbT!.deliver(first, ctx(), never)]);
    const arn = String(l1!.memo!.arn);
    expect(a1!.memo!.arn).toBe(arn);
    expect(await listenerCerts(listener)).toEqual([arn]);

    // Repeating is a no-op (moto would list a second AddListenerCertificates twice).
    await lbT!.deliver(first, ctx(l1!.memo), never);
    expect(await listenerCerts(listener)).toEqual([arn]);

    // Renewal: re-imported into the same ARN, the listener still holds it, nothing changed there.
    const renewed = await ca.leaf(id, [id]);
    const l2 = await lbT!.deliver(renewed, ctx(l1!.memo), never);
    expect(l2!.memo!.arn).toBe(arn);
    expect(l2!.detail).toContain('listener has');
    expect(await listenerCerts(listener)).toEqual([arn]);
    expect(await servedSerial(arn)).toBe(renewed.serial);

    // A new key type cannot be re-imported: a new ARN is added, then the old one removed.
    const rsa = await ca.leaf(id, [id], 'rsa');
    const l3 = await lbT!.deliver(rsa, ctx(l2!.memo), never);
    const arn2 = String(l3!.memo!.arn);
    expect(arn2).not.toBe(arn);
    expect(l3!.detail).toBe(`added ${arn2}; removed ${arn}`);
    expect(await listenerCerts(listener)).toEqual([arn2]);
    expect(await servedSerial(arn2)).toBe(rsa.serial);

    // Removal takes it off the listener.
    const rm = await lbT!.remove!({ id, path: '/gone' }, ctx(l3!.memo), never);
    expect(rm!.detail).toBe(`removed ${arn2}`);
    expect(await listenerCerts(listener)).toEqual([]);
  });

  it('a missing listener is a TARGET_AWS error naming the target', async () => {
    const bogus = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/nope/0123456789abcdef/0123456789abcdef';
    const [t] = make([`elbv2://${bogus}`]);
    const id = `nol-${uniq()}.example.com`;
    const err = await t!.deliver(await ca.leaf(id, [id]), ctx({} as TargetMemo), never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
    expect((err as Error).message).toContain(`elbv2://${bogus} ${id}: DescribeListenerCertificates`);
    expect((err as { retryable: boolean }).retryable).toBe(false);
  });
});
