import { describe, it, expect, vi, beforeEach } from 'vitest';
import { WhisperError, isWhisperError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { TargetsConfig } from '../../src/targets/config.js';
import type { Target } from '../../src/targets/types.js';

// The AWS and SFTP targets are built by their own modules: here only the dispatch is under test.
const aws = vi.hoisted(() => ({ calls: [] as { urls: string[]; options: Record<string, unknown> }[], fail: undefined as Error | undefined }));
const sftp = vi.hoisted(() => ({ calls: [] as { url: string; options: Record<string, unknown> }[], fail: undefined as Error | undefined }));
vi.mock('../../src/targets/aws/factory.js', () => ({
  awsTargetsFromUrls(urls: readonly URL[], options: Record<string, unknown>): Target[] {
    aws.calls.push({ urls: urls.map((u) => u.href), options });
    if (aws.fail) throw aws.fail;
    return urls.map((u) => ({ name: u.href, deliver: () => Promise.resolve() }));
  },
}));
vi.mock('../../src/targets/sftp.js', () => ({
  createSftpTarget(url: URL, options: Record<string, unknown>): Target {
    sftp.calls.push({ url: url.href, options });
    if (sftp.fail) throw sftp.fail;
    return { name: url.href, deliver: () => Promise.resolve() };
  },
}));

const { createTargets, targetsAtStart } = await import('../../src/targets/factory.js');
const { parseTargetUrl, elbv2ListenerArn, targetScheme } = await import('../../src/targets/urls.js');

const log = silentLogger();
const base: TargetsConfig = { haproxySockets: [], urls: [], aws: { iamDeleteExpired: false } };
const ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab2';

beforeEach(() => {
  aws.calls.length = 0;
  sftp.calls.length = 0;
  aws.fail = undefined;
  sftp.fail = undefined;
});

describe('parseTargetUrl', () => {
  it.each([
    ['acm://eu-west-1', 'acm', 'eu-west-1', ''],
    ['iam://', 'iam', '', ''],
    ['elb://my-lb:443', 'elb', 'my-lb', ''],
    ['s3://bucket/prefix/certs', 's3', 'bucket', '/prefix/certs'],
    ['cloudfront://E2ABCDEF', 'cloudfront', 'e2abcdef', ''],
    ['sftp://deploy@files.example.com:2222/etc/haproxy', 'sftp', 'files.example.com', '/etc/haproxy'],
  ])('%s', (value, scheme, host, path) => {
    const url = parseTargetUrl(value);
    expect(targetScheme(url)).toBe(scheme);
    expect(url.hostname.toLowerCase()).toBe(host);
    expect(url.pathname).toBe(path);
  });

  it('keeps an ELBv2 listener ARN whole, as the path', () => {
    const url = parseTargetUrl(`elbv2://${ARN}`);
    expect(url.href).toBe(`elbv2:///${ARN}`);
    expect(elbv2ListenerArn(url)).toBe(ARN);
    expect(elbv2ListenerArn(new URL(`elbv2://${encodeURIComponent(ARN)}`))).toBe(ARN);
  });

  it('refuses an unknown scheme and what is no URL, with TARGET_CONFIG naming the value', () => {
    for (const bad of ['http://example.com', 'acm:eu-west-1', '', 'elb://a b']) {
      let err: unknown;
      try {
        parseTargetUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(isWhisperError(err, 'TARGET_CONFIG'), bad).toBe(true);
      expect((err as Error).message).toContain(`--target ${bad}`);
    }
  });
});

describe('createTargets', () => {
  it('builds nothing without target options', () => {
    expect(createTargets(undefined, { certDir: '/certs', log })).toEqual([]);
  });

  it('builds one HAProxy target per socket, per instance, on the certificate folder', () => {
    const targets = createTargets({ ...base, haproxySockets: ['/run/haproxy.sock', '127.0.0.1:9999'] }, { certDir: '/certs', log });
    expect(targets.map((t) => [t.name, t.perInstance])).toEqual([
      ['haproxy:/run/haproxy.sock', true],
      ['haproxy:127.0.0.1:9999', true],
    ]);
  });

  it('hands the AWS URLs to the AWS factory together, with their options, and each sftp:// URL to the SFTP one', () => {
    const urls = ['acm://eu-west-1', `elbv2://${ARN}`, 'iam://', 'elb://lb:443', 's3://b/p', 'cloudfront://E2AB', 'sftp://u@h:22/certs'].map(parseTargetUrl);
    const config: TargetsConfig = {
      ...base,
      urls,
      aws: { endpoint: 'http://127.0.0.1:5000', s3KmsKey: 'kms', iamDeleteExpired: true },
      sftp: { keyFile: '/k', knownHostsFile: '/kh', mode: 0o640, uid: 1, gid: 2 },
    };
    const targets = createTargets(config, { certDir: '/certs', log });
    expect(targets.map((t) => t.name)).toEqual(['acm://eu-west-1', `elbv2:///${ARN}`, 'iam://', 'elb://lb:443', 's3://b/p', 'cloudfront://E2AB', 'sftp://u@h:22/certs']);
    expect(aws.calls).toHaveLength(1);
    expect(aws.calls[0]?.urls).toHaveLength(6);
    expect(aws.calls[0]?.options).toMatchObject({ endpoint: 'http://127.0.0.1:5000', s3KmsKey: 'kms', iamDeleteExpired: true });
    expect(sftp.calls).toEqual([{ url: 'sftp://u@h:22/certs', options: expect.objectContaining({ keyFile: '/k', knownHostsFile: '/kh', mode: 0o640, uid: 1, gid: 2 }) }]);
  });

  it('refuses an sftp:// target without its SSH files', () => {
    expect(() => createTargets({ ...base, urls: [parseTargetUrl('sftp://u@h/p')] }, { certDir: '/certs', log })).toThrow(/needs --ssh-key and --ssh-known-hosts/);
  });

  it('refuses two targets of the same destination', () => {
    const config: TargetsConfig = { ...base, urls: [parseTargetUrl('sftp://u@h/p'), parseTargetUrl('sftp://u@h/p')], sftp: { keyFile: '/k', knownHostsFile: '/kh' } };
    expect(() => createTargets(config, { certDir: '/certs', log })).toThrow(/same destination: sftp:\/\/u@h\/p/);
  });

  it('names the option value a target refused, and at start makes it an invalid option (exit code 2)', () => {
    sftp.fail = new WhisperError('TARGET_CONFIG', 'SFTP target sftp://u@h/p: the user is missing');
    const config: TargetsConfig = { ...base, urls: [parseTargetUrl('sftp://u@h/p')], sftp: { keyFile: '/k', knownHostsFile: '/kh' } };
    expect(() => createTargets(config, { certDir: '/certs', log })).toThrow(/sftp:\/\/u@h\/p: the user is missing/);
    let err: unknown;
    try {
      targetsAtStart(config, { certDir: '/certs', log });
    } catch (e) {
      err = e;
    }
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    expect(isWhisperError((err as Error).cause, 'TARGET_CONFIG')).toBe(true);
    aws.fail = new Error('bad region');
    expect(() => createTargets({ ...base, urls: [parseTargetUrl('acm://mars-1')] }, { certDir: '/certs', log })).toThrow(/^--target acm:\/\/mars-1: bad region/);
  });
});
