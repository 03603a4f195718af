import { describe, it, expect } from 'vitest';
import { WhisperError } from '../../src/errors.js';
import { coversAliases, viewerCertificate, viewerUpToDate } from '../../src/targets/aws/cloudfront-plan.js';
import { isNoChange, listenerChange } from '../../src/targets/aws/elbv2-plan.js';
import { awsError, isRetryableAwsError, scrubPem } from '../../src/targets/aws/errors.js';
import { expiredToDelete, iamCertName } from '../../src/targets/aws/iam-plan.js';
import { s3Encryption, s3ObjectKeys, s3Objects, s3UpToDate } from '../../src/targets/aws/s3-plan.js';
import type { DeliveryItem } from '../../src/targets/types.js';

const A = 'arn:aws:acm:eu-west-1:1:certificate/a';
const B = 'arn:aws:acm:eu-west-1:1:certificate/b';
const D = 'arn:aws:acm:eu-west-1:1:certificate/default';

describe('ELBv2 listener change', () => {
  it('adds a certificate the listener lacks', () => {
    expect(listenerChange([{ arn: D, isDefault: true }], A, undefined)).toEqual({ add: [A], remove: [] });
  });
  it('a re-import into the same ARN changes nothing', () => {
    const c = listenerChange([{ arn: D, isDefault: true }, { arn: A, isDefault: false }], A, A);
    expect(isNoChange(c)).toBe(true);
  });
  it('a new ARN: add the new one, then remove the old one', () => {
    expect(listenerChange([{ arn: D, isDefault: true }, { arn: A, isDefault: false }], B, A)).toEqual({
      add: [B],
      remove: [A],
    });
  });
  it('the old ARN was the default: the new one becomes the default', () => {
    expect(listenerChange([{ arn: A, isDefault: true }, { arn: B, isDefault: false }], B, A)).toEqual({
      setDefault: B,
      add: [],
      remove: [B],
    });
  });
  it('never removes what it did not put there, and re-adds what someone removed', () => {
    expect(listenerChange([{ arn: D, isDefault: true }], B, A)).toEqual({ add: [B], remove: [] });
  });
});

describe('IAM names and delete-expired', () => {
  it('names a certificate after its id and serial, IAM-safe and at most 128 characters', () => {
    expect(iamCertName('www.example.com', '04A1B2')).toBe('www.example.com-04A1B2');
    expect(iamCertName('*.example.com', '0A')).toBe('_.example.com-0A');
    const long = iamCertName(`${'a'.repeat(150)}.example.com`, 'F'.repeat(40));
    expect(long).toHaveLength(128);
    expect(long.endsWith(`.example.com-${'F'.repeat(40)}`)).toBe(true);
  });
  it('deletes expired certificates under our path that no listener holds', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const past = new Date(now - 1000);
    const future = new Date(now + 1000);
    const certs = [
      { name: 'old', arn: 'arn:old', path: '/whisper-ts/', expiration: past },
      { name: 'used', arn: 'arn:used', path: '/whisper-ts/', expiration: past },
      { name: 'valid', arn: 'arn:valid', path: '/whisper-ts/', expiration: future },
      { name: 'theirs', arn: 'arn:theirs', path: '/', expiration: past },
      { name: 'deeper', arn: 'arn:deeper', path: '/whisper-ts/x/', expiration: past },
      { name: 'unknown', arn: 'arn:unknown', path: '/whisper-ts/' },
    ];
    expect(expiredToDelete(certs, '/whisper-ts/', new Set(['arn:used']), now).map((c) => c.name)).toEqual(['old']);
  });
});

describe('S3 objects', () => {
  const item = {
    id: 'www.example.com',
    names: ['www.example.com'],
    serial: 'AB',
    key: 'K\n',
    cert: 'C\n',
    chain: 'I\n',
  } as unknown as DeliveryItem;

  it('derives the object keys from the prefix and the certificate id', () => {
    expect(s3ObjectKeys('certs/prod', 'www.example.com')).toEqual({
      privkey: 'certs/prod/www.example.com/privkey.pem',
      cert: 'certs/prod/www.example.com/cert.pem',
      chain: 'certs/prod/www.example.com/chain.pem',
      fullchain: 'certs/prod/www.example.com/fullchain.pem',
      bundle: 'certs/prod/www.example.com/www.example.com.pem',
    });
    expect(s3ObjectKeys('', 'a.example.com').cert).toBe('a.example.com/cert.pem');
  });
  it('writes the HAProxy bundle (key, leaf, chain) last', () => {
    const objs = s3Objects('p', item);
    expect(objs.map((o) => [o.key, o.body, o.secret])).toEqual([
      ['p/www.example.com/privkey.pem', 'K\n', true],
      ['p/www.example.com/cert.pem', 'C\n', false],
      ['p/www.example.com/chain.pem', 'I\n', false],
      ['p/www.example.com/fullchain.pem', 'C\nI\n', false],
      ['p/www.example.com/www.example.com.pem', 'K\nC\nI\n', true],
    ]);
  });
  it('SSE-KMS with a key, else AES256; up to date only with the same serial and encryption', () => {
    const kms = 'arn:aws:kms:eu-west-1:1:key/k1';
    expect(s3Encryption(kms)).toEqual({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kms });
    expect(s3Encryption(undefined)).toEqual({ ServerSideEncryption: 'AES256' });
    expect(s3UpToDate({ serial: 'AB', sse: 'AES256' }, 'AB', undefined)).toBe(true);
    expect(s3UpToDate({ serial: 'AA', sse: 'AES256' }, 'AB', undefined)).toBe(false);
    expect(s3UpToDate({ serial: 'AB', sse: 'AES256' }, 'AB', kms)).toBe(false);
    expect(s3UpToDate({ serial: 'AB', sse: 'aws:kms', kmsKeyId: kms }, 'AB', kms)).toBe(true);
    expect(s3UpToDate({ serial: 'AB', sse: 'aws:kms', kmsKeyId: kms }, 'AB', 'k1')).toBe(true);
    expect(s3UpToDate(undefined, 'AB', undefined)).toBe(false);
  });
});

describe('CloudFront viewer certificate', () => {
  it('matches aliases against the names, wildcards one label deep', () => {
    expect(coversAliases(['*.example.com'], ['www.example.com', 'api.example.com'])).toBe(true);
    expect(coversAliases(['*.example.com'], ['a.b.example.com'])).toBe(false);
    expect(coversAliases(['www.example.com'], ['www.example.com', 'example.com'])).toBe(false);
    expect(coversAliases(['www.example.com'], [])).toBe(false);
  });
  it('sets ARN, SNI and at least TLSv1.2_2021, keeping a stricter policy', () => {
    expect(viewerCertificate(A, { MinimumProtocolVersion: 'TLSv1' })).toEqual({
      ACMCertificateArn: A,
      SSLSupportMethod: 'sni-only',
      MinimumProtocolVersion: 'TLSv1.2_2021',
      CloudFrontDefaultCertificate: false,
    });
    expect(viewerCertificate(A, { MinimumProtocolVersion: 'TLSv1.3_2025' }).MinimumProtocolVersion).toBe('TLSv1.3_2025');
    expect(viewerUpToDate(viewerCertificate(A, undefined), A)).toBe(true);
    expect(viewerUpToDate(viewerCertificate(A, undefined), B)).toBe(false);
    expect(viewerUpToDate({ CloudFrontDefaultCertificate: true }, A)).toBe(false);
  });
});

describe('AWS errors', () => {
  const sdk = (name: string, status: number, message = 'm') =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

  it('throttling, 5xx, network and PreconditionFailed are retryable; validation is not', () => {
    expect(isRetryableAwsError(sdk('ThrottlingException', 400))).toBe(true);
    expect(isRetryableAwsError(sdk('Throttling', 400))).toBe(true);
    expect(isRetryableAwsError(sdk('InternalFailure', 500))).toBe(true);
    expect(isRetryableAwsError(sdk('Whatever', 503))).toBe(true);
    expect(isRetryableAwsError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryableAwsError(sdk('PreconditionFailed', 412))).toBe(true);
    expect(isRetryableAwsError(sdk('ValidationException', 400))).toBe(false);
    expect(isRetryableAwsError(sdk('AccessDeniedException', 403))).toBe(false);
  });
  it('TARGET_AWS naming the call, the cause attached, and no PEM in message or cause', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----';
    const err = awsError(sdk('ValidationException', 400, `bad key ${pem} here`), 'acm://eu-west-1 www: ImportCertificate');
    expect(err).toBeInstanceOf(WhisperError);
    expect(err.code).toBe('TARGET_AWS');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('acm://eu-west-1 www: ImportCertificate: ValidationException: bad key [pem] here');
    expect(String((err.cause as Error).message)).not.toContain('MIGHAgEAMBMG');
    expect(scrubPem(`a ${pem}`)).toBe('a [pem]');
    expect(awsError(Object.assign(new Error('x'), { name: 'AbortError' }), 'w').code).toBe('ABORTED');
  });
});
