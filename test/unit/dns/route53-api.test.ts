import { describe, it, expect } from 'vitest';
import { fromRoute53Name, isRetryableRoute53Error, route53Error } from '../../../src/dns/route53-api.js';
import { WhisperError } from '../../../src/errors.js';

const sdkError = (name: string, status?: number, extra: object = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });

describe('isRetryableRoute53Error', () => {
  it('retries throttling, a busy zone, server faults and network failures', () => {
    expect(isRetryableRoute53Error(sdkError('Throttling', 400))).toBe(true);
    expect(isRetryableRoute53Error(sdkError('PriorRequestNotComplete', 400))).toBe(true);
    expect(isRetryableRoute53Error(sdkError('InternalError', 500))).toBe(true);
    expect(isRetryableRoute53Error(sdkError('ServiceUnavailable', 503))).toBe(true);
    expect(isRetryableRoute53Error(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
  });

  it('does not retry what will fail again', () => {
    expect(isRetryableRoute53Error(sdkError('AccessDenied', 403))).toBe(false);
    expect(isRetryableRoute53Error(sdkError('InvalidChangeBatch', 400))).toBe(false);
    expect(isRetryableRoute53Error(sdkError('NoSuchHostedZone', 404))).toBe(false);
    expect(isRetryableRoute53Error('a string')).toBe(false);
  });
});

describe('route53Error', () => {
  it('maps an abort to ABORTED', () => {
    expect(route53Error(sdkError('AbortError'), 'call').code).toBe('ABORTED');
  });

  it('passes a WhisperError through', () => {
    const e = new WhisperError('DNS_ZONE_NOT_FOUND', 'x');
    expect(route53Error(e, 'call')).toBe(e);
  });

  it('keeps the original cause when there is nothing to scrub', () => {
    const cause = sdkError('AccessDenied', 403);
    const err = route53Error(cause, 'Route53 GetChange C1', ['value']);
    expect(err.cause).toBe(cause);
    expect(err.message).toBe('Route53 GetChange C1: AccessDenied: AccessDenied');
  });
});

describe('fromRoute53Name', () => {
  it('lowercases, drops the trailing dot and decodes octal escapes', () => {
    expect(fromRoute53Name('\\052.Example.COM.')).toBe('*.example.com');
    expect(fromRoute53Name('_acme-challenge.example.com.')).toBe('_acme-challenge.example.com');
  });
});
