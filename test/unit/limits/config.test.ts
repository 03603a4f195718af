import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { LETSENCRYPT_LIMITS, parseRateLimits, refillInterval } from '../../../src/limits/config.js';
import { bucketKeys, exactSetKey, orderKinds, registeredDomain } from '../../../src/limits/keys.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('parseRateLimits', () => {
  it('knows none and letsencrypt', () => {
    expect(parseRateLimits('none')).toEqual({});
    expect(parseRateLimits('letsencrypt')).toBe(LETSENCRYPT_LIMITS);
    expect(LETSENCRYPT_LIMITS).toEqual({
      registeredDomain: { capacity: 50, periodMs: 7 * DAY },
      exactSet: { capacity: 5, periodMs: 7 * DAY },
      newOrders: { capacity: 300, periodMs: 3 * HOUR },
      authzFailures: { capacity: 5, periodMs: HOUR },
    });
  });

  it('reads a full list with every unit', () => {
    expect(parseRateLimits('registeredDomain=50/7d,exactSet=5/7d,newOrders=300/3h,authzFailures=5/1h')).toEqual(LETSENCRYPT_LIMITS);
    expect(parseRateLimits('newOrders=10/30m , authzFailures=2/90s')).toEqual({
      ...LETSENCRYPT_LIMITS,
      newOrders: { capacity: 10, periodMs: 30 * 60_000 },
      authzFailures: { capacity: 2, periodMs: 90_000 },
    });
  });

  it('keeps the defaults of kinds not listed and disables a kind set to off', () => {
    const limits = parseRateLimits('exactSet=off');
    expect(limits.exactSet).toBeUndefined();
    expect(limits.registeredDomain).toEqual(LETSENCRYPT_LIMITS.registeredDomain);
  });

  it('refuses garbage with CONFIG_INVALID naming --rate-limits', () => {
    for (const bad of ['lots', 'exactSet=5', 'exactSet=5/7w', 'unknown=1/1h', 'exactSet=0/7d', 'exactSet=5/0d', 'exactSet=5/7d,exactSet=4/7d', 'exactSet=5/7d,', '=5/7d']) {
      let caught: unknown;
      try {
        parseRateLimits(bad);
      } catch (err) {
        caught = err;
      }
      expect(isWhisperError(caught, 'CONFIG_INVALID'), bad).toBe(true);
      expect((caught as Error).message).toContain('--rate-limits');
    }
  });

  it('refills one token every period / size', () => {
    expect(refillInterval({ capacity: 50, periodMs: 7 * DAY })).toBeCloseTo(201.6 * 60_000, 3);
    expect(refillInterval({ capacity: 300, periodMs: 3 * HOUR })).toBe(36_000);
  });
});

describe('bucket keys', () => {
  it('keys registered domains by the Public Suffix List', () => {
    expect(registeredDomain('a.b.example.co.uk')).toBe('example.co.uk');
    expect(registeredDomain('*.Example.COM.')).toBe('example.com');
    expect(registeredDomain('foo.github.io')).toBe('foo.github.io');
    expect(registeredDomain('localhost')).toBe('localhost');
  });

  it('keys exact sets by the sorted distinct names', () => {
    expect(exactSetKey(['b.example.com', 'A.example.com', 'b.example.com'])).toBe('a.example.com,b.example.com');
  });

  it('applies exemptions to the kinds an order draws from', () => {
    expect(orderKinds({ names: ['a.example.com'] })).toEqual(['registeredDomain', 'exactSet', 'newOrders']);
    expect(orderKinds({ names: ['a.example.com'], renewal: true })).toEqual(['exactSet']);
    expect(orderKinds({ names: ['a.example.com'], replaces: true })).toEqual([]);
  });

  it('gives one registered-domain key per domain of a multi-domain order', () => {
    const order = { names: ['www.example.com', 'example.com', 'shop.example.org'] };
    expect(bucketKeys('registeredDomain', order, 'acct')).toEqual(['example.com', 'example.org']);
    expect(bucketKeys('newOrders', order, 'acct')).toEqual(['acct']);
    expect(bucketKeys('authzFailures', order, 'acct')).toEqual(['example.com', 'shop.example.org', 'www.example.com']);
  });
});
