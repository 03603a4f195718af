import { describe, it, expect } from 'vitest';
import { followCname, parseHostPort, toResolverServers, type CnameLookup } from '../../../src/dns/cname.js';
import { isWhisperError } from '../../../src/errors.js';

const table =
  (cnames: Record<string, string>): CnameLookup =>
  async (name) =>
    cnames[name];

describe('followCname', () => {
  it('returns the name itself when it has no CNAME', async () => {
    expect(await followCname('_acme-challenge.www.example.com', table({}))).toBe('_acme-challenge.www.example.com');
  });

  it('follows a chain to its end, normalising case and trailing dots', async () => {
    const lookup = table({
      '_acme-challenge.www.example.com': '_acme-challenge.www.example.com.validation.example.net.',
      '_acme-challenge.www.example.com.validation.example.net': 'Final.ACME.example.org.',
    });
    expect(await followCname('_acme-challenge.WWW.example.com.', lookup)).toBe('final.acme.example.org');
  });

  it('detects a loop and names it', async () => {
    const lookup = table({ 'a.example.com': 'b.example.com', 'b.example.com': 'a.example.com' });
    const err = await followCname('a.example.com', lookup).catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect((err as Error).message).toContain('a.example.com -> b.example.com -> a.example.com');
  });

  it('gives up after maxHops', async () => {
    const lookup: CnameLookup = async (name) => {
      const n = Number(/^h(\d+)\./.exec(name)?.[1] ?? 0);
      return `h${n + 1}.example.com`;
    };
    const err = await followCname('h0.example.com', lookup).catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect((err as Error).message).toContain('longer than 10 hops');
    // Exactly 10 hops are fine.
    const ten: CnameLookup = async (name) => {
      const n = Number(/^h(\d+)\./.exec(name)?.[1] ?? 0);
      return n < 10 ? `h${n + 1}.example.com` : undefined;
    };
    expect(await followCname('h0.example.com', ten)).toBe('h10.example.com');
  });

  it('stops when aborted', async () => {
    const err = await followCname('a.example.com', table({}), { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isWhisperError(err, 'ABORTED')).toBe(true);
  });
});

describe('parseHostPort', () => {
  it('parses the forms a --dns-resolver may take', () => {
    expect(parseHostPort('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(parseHostPort('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 53 });
    expect(parseHostPort('[::1]:5353')).toEqual({ host: '::1', port: 5353 });
    expect(parseHostPort('::1')).toEqual({ host: '::1', port: 53 });
    expect(parseHostPort('ns1.example.com:53')).toEqual({ host: 'ns1.example.com', port: 53 });
  });

  it('rejects nonsense', () => {
    expect(() => parseHostPort('a:b:c:')).toThrow(/not a DNS server address/);
    expect(() => parseHostPort('host:70000')).toThrow(/bad port/);
  });
});

describe('toResolverServers', () => {
  it('writes addresses as node:dns wants them and resolves host names', async () => {
    expect(await toResolverServers(['127.0.0.1:5353', '[::1]:53', '10.0.0.1'])).toEqual([
      '127.0.0.1:5353',
      '[::1]:53',
      '10.0.0.1:53',
    ]);
    const local = await toResolverServers(['localhost:5300']);
    expect(local.length).toBeGreaterThan(0);
    for (const s of local) expect(s).toMatch(/:5300$/);
  });
});
