import { describe, it, expect } from 'vitest';
import { decideAccess, isLocalHost, isLoopback, tokenMatches, type AccessRequest } from '../../src/admin/auth.js';

describe('isLoopback', () => {
  it('accepts 127/8, ::1 and IPv4-mapped loopback', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9', '0:0:0:0:0:0:0:1']) expect(isLoopback(a), a).toBe(true);
  });
  it('refuses everything else', () => {
    for (const a of [undefined, '', '10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '127.0.0.256', '::2', 'fe80::1', '1127.0.0.1', 'localhost']) expect(isLoopback(a), String(a)).toBe(false);
  });
});

describe('isLocalHost', () => {
  it('accepts loopback names and addresses, with or without a port', () => {
    for (const h of ['localhost', 'localhost:9400', 'LOCALHOST', '127.0.0.1:9400', '[::1]:9400', 'app.localhost:1']) expect(isLocalHost(h), h).toBe(true);
  });
  it('refuses other names (a DNS-rebound page sends its own)', () => {
    for (const h of [undefined, '', 'evil.example:9400', '10.0.0.1', 'localhost.evil.example', '[::2]:1']) expect(isLocalHost(h), String(h)).toBe(false);
  });
});

describe('tokenMatches', () => {
  const token = 'abcdefghijklmnop-1234';
  it('accepts the bearer token, the scheme in any case', () => {
    expect(tokenMatches(token, `Bearer ${token}`)).toBe(true);
    expect(tokenMatches(token, `bearer ${token}`)).toBe(true);
  });
  it('refuses a wrong, shorter, longer, missing token or another scheme', () => {
    for (const h of [undefined, '', 'Bearer', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${token}`, token, `Bearer ${token} extra`]) {
      expect(tokenMatches(token, h), String(h)).toBe(false);
    }
  });
});

describe('decideAccess', () => {
  const base: AccessRequest = { action: false, page: false, local: true, tokenConfigured: true, tokenSent: false, tokenValid: false };
  const decide = (r: Partial<AccessRequest>) => decideAccess({ ...base, ...r });

  it('lets loopback read without a token, configured or not', () => {
    expect(decide({})).toEqual({ allowed: true });
    expect(decide({ tokenConfigured: false })).toEqual({ allowed: true });
  });
  it('asks other addresses for the token, and with none configured refuses naming --admin-token-file', () => {
    expect(decide({ local: false })).toMatchObject({ allowed: false, status: 401, challenge: true });
    expect(decide({ local: false, tokenSent: true, tokenValid: true })).toEqual({ allowed: true });
    const refused = decide({ local: false, tokenConfigured: false });
    expect(refused).toMatchObject({ allowed: false, status: 403, challenge: false });
    expect(refused.allowed || refused.message).toContain('--admin-token-file');
    expect(decide({ local: false, tokenConfigured: false, page: true })).toMatchObject({ allowed: false, status: 403 });
  });
  it('serves the pages to anybody once a token is configured (they hold no data)', () => {
    expect(decide({ local: false, page: true })).toEqual({ allowed: true });
  });
  it('needs the token for every action, from loopback too', () => {
    expect(decide({ action: true })).toMatchObject({ allowed: false, status: 401, challenge: true });
    expect(decide({ action: true, tokenSent: true })).toMatchObject({ allowed: false, status: 401 });
    expect(decide({ action: true, tokenSent: true, tokenValid: true })).toEqual({ allowed: true });
    expect(decide({ action: true, tokenConfigured: false, tokenSent: true })).toEqual({
      allowed: false, status: 403, message: 'actions need --admin-token-file', challenge: false,
    });
  });
  it('refuses a wrong token even where none is needed, so that the dashboard says so', () => {
    expect(decide({ tokenSent: true })).toMatchObject({ allowed: false, status: 401, message: 'the admin token is wrong' });
    // Without a configured token there is nothing to be wrong about: loopback reads go on.
    expect(decide({ tokenSent: true, tokenConfigured: false })).toEqual({ allowed: true });
  });
});
