import { describe, it, expect } from 'vitest';
import { answerError, asProblem, hasProblemType, parseRetryAfter, problemOf } from '../../../src/acme/problems.js';

const NOW = new Date('2026-11-23T10:00:00Z');
const problem = (type: string, detail = 'details here') => ({ type: `urn:ietf:params:acme:error:${type}`, detail });

describe('parseRetryAfter', () => {
  it('reads delay-seconds from now', () => {
    expect(parseRetryAfter('120', NOW)).toEqual(new Date('2026-11-23T10:02:00Z'));
    expect(parseRetryAfter(' 0 ', NOW)).toEqual(NOW);
  });

  it('reads an HTTP date', () => {
    expect(parseRetryAfter('Tue, 24 Nov 2026 08:49:37 GMT', NOW)).toEqual(new Date('2026-11-24T08:49:37Z'));
  });

  it('ignores what it cannot read', () => {
    for (const value of [undefined, '', 'soon', '-5', '1.5', 'Tue, 99 Foo 2026', 42]) {
      expect(parseRetryAfter(value, NOW)).toBeUndefined();
    }
  });
});

describe('answerError', () => {
  const map = (status: number, data: unknown, headers: Record<string, unknown> = {}) =>
    answerError('certificate www.example.com', 'https://ca/new-order', { status, headers, data }, NOW);

  it('maps rateLimited to a retryable ACME_RATE_LIMITED with retryAfter', () => {
    const err = map(429, problem('rateLimited', 'too many certificates for example.com'), { 'retry-after': '3600' });
    expect(err.code).toBe('ACME_RATE_LIMITED');
    expect(err.retryable).toBe(true);
    expect(err.retryAfter).toEqual(new Date('2026-11-23T11:00:00Z'));
    expect(err.message).toContain('certificate www.example.com');
    expect(err.message).toContain('too many certificates');
    expect(hasProblemType(err, 'rateLimited')).toBe(true);
  });

  it('maps a bare 429 without header to ACME_RATE_LIMITED without retryAfter', () => {
    const err = map(429, '<html>slow down</html>');
    expect(err.code).toBe('ACME_RATE_LIMITED');
    expect(err.retryAfter).toBeUndefined();
  });

  it('maps 5xx to a retryable ACME_ORDER, with or without a problem document', () => {
    const html = map(502, '<html>Bad gateway</html>', { 'retry-after': '30' });
    expect([html.code, html.retryable]).toEqual(['ACME_ORDER', true]);
    expect(html.retryAfter).toEqual(new Date('2026-11-23T10:00:30Z'));
    const doc = map(500, problem('serverInternal'));
    expect([doc.code, doc.retryable]).toEqual(['ACME_ORDER', true]);
  });

  it('maps other problem documents to a non-retryable ACME_ORDER naming the type and detail', () => {
    const err = map(400, { ...problem('rejectedIdentifier', 'blocked'), subproblems: [{ ...problem('rejectedIdentifier', 'x.example.com is blocked') }] });
    expect([err.code, err.retryable]).toEqual(['ACME_ORDER', false]);
    expect(err.message).toContain('urn:ietf:params:acme:error:rejectedIdentifier: blocked (x.example.com is blocked)');
    expect(problemOf(err)).toMatchObject({ type: 'urn:ietf:params:acme:error:rejectedIdentifier', status: 400 });
  });

  it('keeps retryable problem types retryable (badNonce, connection, dns)', () => {
    for (const type of ['badNonce', 'connection', 'dns']) expect(map(400, problem(type)).retryable).toBe(true);
  });

  it('maps accountDoesNotExist to ACME_ACCOUNT', () => {
    expect(map(400, problem('accountDoesNotExist')).code).toBe('ACME_ACCOUNT');
  });

  it('maps a 4xx without a problem document to ACME_BAD_RESPONSE', () => {
    const err = map(404, '<html>Not found</html>');
    expect([err.code, err.retryable]).toEqual(['ACME_BAD_RESPONSE', false]);
    expect(err.message).toContain('https://ca/new-order');
  });
});

describe('asProblem', () => {
  it('keeps the identifier of each subproblem (RFC 8555 §6.7.1), and drops one that is not an identifier', () => {
    const p = asProblem({
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Order included an identifier for which issuance is forbidden',
      subproblems: [
        { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'forbidden', identifier: { type: 'dns', value: 'blocked.example' } },
        { type: 'urn:ietf:params:acme:error:caa', detail: 'CAA', identifier: 'not an object' },
      ],
    }, 400);
    expect(p?.subproblems).toEqual([
      { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'forbidden', identifier: { type: 'dns', value: 'blocked.example' } },
      { type: 'urn:ietf:params:acme:error:caa', detail: 'CAA' },
    ]);
    expect(p?.status).toBe(400);
  });
});
