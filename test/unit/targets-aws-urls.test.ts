import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../src/errors.js';
import { awsTargetsFromUrls } from '../../src/targets/aws/factory.js';
import { awsTargetUrl, parseAwsTargetUrl } from '../../src/targets/aws/urls.js';

const LISTENER = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/lb1/441fb850c1e983c6/6fa8eeb84434e187';

const parse = (text: string) => parseAwsTargetUrl(awsTargetUrl(text));

function configError(fn: () => unknown, mentions: string): void {
  try {
    fn();
  } catch (err) {
    expect(isWhisperError(err, 'TARGET_CONFIG')).toBe(true);
    expect((err as Error).message).toContain(mentions);
    return;
  }
  throw new Error('expected a TARGET_CONFIG error');
}

describe('AWS --target URLs', () => {
  it('acm://<region>', () => {
    expect(parse('acm://eu-west-1')).toEqual({ kind: 'acm', name: 'acm://eu-west-1', region: 'eu-west-1' });
    configError(() => parse('acm://europe'), 'acm://europe');
    configError(() => parse('acm://eu-west-1/x'), 'no path');
  });

  it('elbv2://<listener-arn>, written plainly, with three slashes, opaque or percent-encoded', () => {
    const want = { kind: 'elbv2', name: `elbv2://${LISTENER}`, listenerArn: LISTENER, region: 'eu-west-1' };
    expect(parse(`elbv2://${LISTENER}`)).toEqual(want);
    expect(parse(`elbv2:///${LISTENER}`)).toEqual(want);
    expect(parseAwsTargetUrl(new URL(`elbv2:${LISTENER}`))).toEqual(want);
    expect(parseAwsTargetUrl(new URL(`elbv2://${encodeURIComponent(LISTENER)}`))).toEqual(want);
    configError(() => parse('elbv2://arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/lb1/1'), 'listener ARN');
  });

  it('iam:// with the default path or its own', () => {
    expect(parse('iam://')).toEqual({ kind: 'iam', name: 'iam://', path: '/whisper-ts/' });
    expect(parse('iam:///team-a/')).toEqual({ kind: 'iam', name: 'iam:///team-a/', path: '/team-a/' });
    configError(() => parse('iam://host'), 'IAM is global');
    configError(() => parse('iam:///no-trailing-slash'), 'not an IAM path');
  });

  it('elb://<name>[:port]?id=…: port 443 by default, the certificate id required', () => {
    expect(parse('elb://my-lb?id=www.example.com')).toEqual({
      kind: 'elb',
      name: 'elb://my-lb:443?id=www.example.com',
      lbName: 'my-lb',
      port: 443,
      id: 'www.example.com',
    });
    expect(parse('elb://My-LB:8443?id=a.example.com&region=us-west-2')).toMatchObject({
      lbName: 'My-LB',
      port: 8443,
      region: 'us-west-2',
    });
    configError(() => parse('elb://my-lb'), '?id=');
    configError(() => parse('elb://my_lb?id=a'), 'classic ELB name');
    configError(() => parse('elb://my-lb?id=a&zone=x'), 'unknown parameter "zone"');
    configError(() => parse('elb://my-lb?id=a&region=mars'), 'not an AWS region');
  });

  it('s3://<bucket>/<prefix>', () => {
    expect(parse('s3://my-bucket/certs/prod/')).toEqual({
      kind: 's3',
      name: 's3://my-bucket/certs/prod',
      bucket: 'my-bucket',
      prefix: 'certs/prod',
    });
    expect(parse('s3://my-bucket')).toMatchObject({ prefix: '', name: 's3://my-bucket/' });
    expect(parse('s3://my-bucket/p?region=eu-central-1')).toMatchObject({ region: 'eu-central-1' });
    configError(() => parse('s3://my-bucket/a//b'), 'empty');
    configError(() => parse('s3://B/x'), 'bucket name');
  });

  it('cloudfront://<distribution-id>[?id=…]', () => {
    expect(parse('cloudfront://E8T8VVWUPMCLP')).toEqual({
      kind: 'cloudfront',
      name: 'cloudfront://E8T8VVWUPMCLP',
      distributionId: 'E8T8VVWUPMCLP',
    });
    expect(parse('cloudfront://E8T8VVWUPMCLP?id=www.example.com')).toMatchObject({ id: 'www.example.com' });
    configError(() => parse('cloudfront://bad-id!'), 'cloudfront://');
  });

  it('refuses other schemes, and text that is no URL', () => {
    configError(() => parse('ftp://x'), 'not an AWS target scheme');
    configError(() => awsTargetUrl('not a url'), 'not a url');
  });
});

describe('awsTargetsFromUrls', () => {
  it('one target per URL, named after it; elb implies the IAM upload; the sweep goes to one target', () => {
    const targets = awsTargetsFromUrls(
      ['acm://eu-west-1', `elbv2://${LISTENER}`, 'elb://lb?id=a.example.com', 's3://bucket-x/p', 'cloudfront://EABC'].map(
        awsTargetUrl,
      ),
      { iamDeleteExpired: true, endpoint: 'http://127.0.0.1:1' },
    );
    expect(targets.map((t) => t.name)).toEqual([
      'acm://eu-west-1',
      `elbv2://${LISTENER}`,
      'elb://lb:443?id=a.example.com',
      's3://bucket-x/p',
      'cloudfront://EABC',
    ]);
    expect(targets.filter((t) => t.sweep).map((t) => t.name)).toEqual(['elb://lb:443?id=a.example.com']);
    expect(targets.every((t) => !t.perInstance)).toBe(true);
  });

  it('refuses a target given twice, two IAM paths, and --iam-delete-expired without IAM', () => {
    configError(() => awsTargetsFromUrls(['acm://eu-west-1', 'acm://eu-west-1'].map(awsTargetUrl), {}), 'given twice');
    configError(() => awsTargetsFromUrls(['iam://', 'iam:///b/'].map(awsTargetUrl), {}), 'only one iam://');
    configError(() => awsTargetsFromUrls([awsTargetUrl('s3://bucket-x/p')], { iamDeleteExpired: true }), '--iam-delete-expired');
    configError(() => awsTargetsFromUrls([awsTargetUrl('acm://moon')], {}), 'acm://moon');
  });
});
