import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import {
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingClient,
} from '@aws-sdk/client-elastic-load-balancing';
import { GetServerCertificateCommand, IAMClient, ListServerCertificatesCommand, UploadServerCertificateCommand } from '@aws-sdk/client-iam';
import { isWhisperError } from '../../src/errors.js';
import { awsTargetsFromUrls } from '../../src/targets/aws/factory.js';
import { iamCertName } from '../../src/targets/aws/iam-plan.js';
import { awsTargetUrl } from '../../src/targets/aws/urls.js';
import type { Target } from '../../src/targets/types.js';
import { startHttpFaultProxy, type HttpFaultProxy } from '../support/http-fault-proxy.js';
import { ctx, fakeAwsCredentials, faultTimes, never, testCa, uniq, xmlServerError, type TestCa } from './target-aws-helpers.js';
import '../support/env-types.js';

const env = inject('env');
const endpoint = env.route53.endpoint;
const region = 'eu-west-1';
let ca: TestCa;
let proxy: HttpFaultProxy;
const targets: Target[] = [];
const sdk = { endpoint, region, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } };
const iam = new IAMClient({ ...sdk, region: 'us-east-1' });
const elb = new ElasticLoadBalancingClient(sdk);

beforeAll(async () => {
  fakeAwsCredentials();
  ca = await testCa();
  proxy = await startHttpFaultProxy(endpoint);
});

afterAll(async () => {
  for (const t of targets) await t.close?.();
  await proxy?.close();
  await ca?.close();
  iam.destroy();
  elb.destroy();
});

function make(urls: string[], opts: { through?: string; iamDeleteExpired?: boolean } = {}): Target[] {
  const made = awsTargetsFromUrls(urls.map(awsTargetUrl), {
    endpoint: opts.through ?? endpoint,
    region,
    maxAttempts: 1,
    ...(opts.iamDeleteExpired ? { iamDeleteExpired: true } : {}),
  });
  targets.push(...made);
  return made;
}

/** A classic load balancer with an HTTPS listener on 443 holding some other IAM certificate, and HTTP on 80. */
async function classicLb(): Promise<string> {
  const other = await ca.leaf('other', [`other-${uniq()}.example.com`]);
  const up = await iam.send(
    new UploadServerCertificateCommand({ ServerCertificateName: `other-${uniq()}`, CertificateBody: other.cert, PrivateKey: other.key }),
  );
  const name = `clb-${uniq()}`;
  await elb.send(
    new CreateLoadBalancerCommand({
      LoadBalancerName: name,
      AvailabilityZones: [`${region}a`],
      Listeners: [
        { Protocol: 'HTTPS', LoadBalancerPort: 443, InstancePort: 80, InstanceProtocol: 'HTTP', SSLCertificateId: up.ServerCertificateMetadata!.Arn },
        { Protocol: 'HTTP', LoadBalancerPort: 80, InstancePort: 80, InstanceProtocol: 'HTTP' },
      ],
    }),
  );
  return name;
}

async function listenerCert(name: string, port: number): Promise<string | undefined> {
  const d = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] }));
  return d.LoadBalancerDescriptions![0]!.ListenerDescriptions!.find((l) => l.Listener!.LoadBalancerPort === port)!.Listener!
    .SSLCertificateId;
}

async function ourNames(path: string): Promise<string[]> {
  const l = await iam.send(new ListServerCertificatesCommand({ PathPrefix: path }));
  return (l.ServerCertificateMetadataList ?? []).filter((m) => m.Path === path).map((m) => m.ServerCertificateName!).sort();
}

describe('iam:// + elb://<name>[:port] on moto', () => {
  it('uploads under the path with the serial in the name, switches the listener, renews under a new name', async () => {
    const lb = await classicLb();
    const path = `/whisper-ts-${uniq()}/`;
    const id = `www-${uniq()}.example.com`;
    const [iamT, elbT] = make([`iam://${path}`, `elb://${lb}?id=${id}`]);
    expect(iamT!.name).toBe(`iam://${path}`);
    expect(elbT!.name).toBe(`elb://${lb}:443?id=${id}`);
    const first = await ca.leaf(id, [id]);

    const i1 = await iamT!.deliver(first, ctx(), never);
    expect(i1!.memo!.iamName).toBe(iamCertName(id, first.serial));
    expect(i1!.detail).toContain('uploaded');
    const e1 = await elbT!.deliver(first, ctx(), never);
    // Shared uploader: the ELB target found the iam:// upload, no second one (moto would accept a duplicate name).
    expect(e1!.memo).toEqual(i1!.memo);
    expect(e1!.detail).toBe(`listener switched to ${String(i1!.memo!.iamArn)}`);
    expect(await listenerCert(lb, 443)).toBe(i1!.memo!.iamArn);
    expect(await ourNames(path)).toEqual([iamCertName(id, first.serial)]);
    const got = await iam.send(new GetServerCertificateCommand({ ServerCertificateName: iamCertName(id, first.serial) }));
    expect(got.ServerCertificate!.ServerCertificateMetadata!.Path).toBe(path);

    // Repeat: nothing uploaded, nothing switched.
    expect((await elbT!.deliver(first, ctx(e1!.memo), never))!.detail).toContain('listener has');
    expect((await iamT!.deliver(first, ctx(i1!.memo), never))!.detail).toContain('already in');

    // Renewal: a new name, the listener switched to it.
    const renewed = await ca.leaf(id, [id]);
    const e2 = await elbT!.deliver(renewed, ctx(e1!.memo), never);
    expect(e2!.memo!.iamName).toBe(iamCertName(id, renewed.serial));
    expect(await listenerCert(lb, 443)).toBe(e2!.memo!.iamArn);
    expect(await ourNames(path)).toEqual([iamCertName(id, first.serial), iamCertName(id, renewed.serial)].sort());

    // Another certificate is not this listener's: a no-op.
    const other = await ca.leaf(`x-${id}`, [`x-${id}`]);
    expect((await elbT!.deliver(other, ctx(), never))!.detail).toContain("not this listener's certificate");
    expect(await listenerCert(lb, 443)).toBe(e2!.memo!.iamArn);
  });

  it('--iam-delete-expired deletes our expired certificates nothing uses, keeps the listener one', async () => {
    // moto gives every IAM server certificate the expiration 2012-05-08: all of ours count as expired.
    const lb = await classicLb();
    const path = `/whisper-ts-${uniq()}/`;
    const id = `sw-${uniq()}.example.com`;
    const [iamT, elbT] = make([`iam://${path}`, `elb://${lb}?id=${id}`], { iamDeleteExpired: true });
    expect(iamT!.sweep).toBeTypeOf('function');
    expect(elbT!.sweep).toBeUndefined();
    const first = await ca.leaf(id, [id]);
    const renewed = await ca.leaf(id, [id]);
    const spare = await ca.leaf(`sp-${id}`, [`sp-${id}`]);
    await elbT!.deliver(first, ctx(), never);
    await iamT!.deliver(spare, ctx(), never);
    const e2 = await elbT!.deliver(renewed, ctx(), never);
    await iamT!.sweep!({ log: ctx().log, now: Date.now }, never);
    expect(await ourNames(path)).toEqual([iamCertName(id, renewed.serial)]);
    expect(await listenerCert(lb, 443)).toBe(e2!.memo!.iamArn);
  });

  it('a 500 from IAM is a retryable TARGET_AWS error; the next call succeeds', async () => {
    const lb = await classicLb();
    const id = `f-${uniq()}.example.com`;
    const [elbT] = make([`elb://${lb}:443?id=${id}`], { through: proxy.url });
    const item = await ca.leaf(id, [id]);
    // DescribeLoadBalancers passes, GetServerCertificate gets the fault.
    let n = 0;
    const once = faultTimes(1, xmlServerError);
    proxy.fault = (m, p) => (++n === 2 ? once(m, p) : undefined);
    const err = await elbT!.deliver(item, ctx(), never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    expect((err as Error).message).toContain(`elb://${lb}:443?id=${id}`);
    const out = await elbT!.deliver(item, ctx(), never);
    expect(await listenerCert(lb, 443)).toBe(out!.memo!.iamArn);
  });

  it('a listener port the load balancer lacks is a TARGET_AWS error that retrying cannot help', async () => {
    const lb = await classicLb();
    const id = `p-${uniq()}.example.com`;
    const [elbT] = make([`elb://${lb}:8443?id=${id}`]);
    const err = await elbT!.deliver(await ca.leaf(id, [id]), ctx(), never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWhisperError(err, 'TARGET_AWS')).toBe(true);
    expect((err as Error).message).toContain('no listener on port 8443');
    expect((err as { retryable: boolean }).retryable).toBe(false);
  });
});
