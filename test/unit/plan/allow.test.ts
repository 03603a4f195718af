import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { createAllowList, parseAllowEntry } from '../../../src/plan/allow.js';

describe('parseAllowEntry', () => {
  it('reads the three forms and normalizes the domain', () => {
    expect(parseAllowEntry('Example.COM.')).toEqual({ domain: 'example.com', includeSelf: true });
    expect(parseAllowEntry('*.example.com')).toEqual({ domain: 'example.com', includeSelf: false });
    expect(parseAllowEntry('.example.com')).toEqual({ domain: 'example.com', includeSelf: false });
    expect(parseAllowEntry(' bücher.example ')).toEqual({ domain: 'xn--bcher-kva.example', includeSelf: true });
  });

  it.each(['', '*', '.', '*.', 'com', '..example.com', '*.*.example.com', 'a/b.com', 'ex ample.com', '1.2.3.4'])(
    'rejects %j as CONFIG_INVALID naming it',
    (entry) => {
      let caught: unknown;
      try {
        parseAllowEntry(entry);
      } catch (err) {
        caught = err;
      }
      expect(isWhisperError(caught, 'CONFIG_INVALID')).toBe(true);
      expect((caught as Error).message).toContain(JSON.stringify(entry));
      expect(isWhisperError((caught as Error).cause, 'HOSTNAME_INVALID')).toBe(true);
    },
  );
});

describe('createAllowList', () => {
  it('allows everything when empty', () => {
    const allow = createAllowList([]);
    expect(allow.allows('anything.example.org')).toBe(true);
    expect(allow.allows('*.example.org')).toBe(true);
  });

  it('allows a domain and every name under it', () => {
    const allow = createAllowList(['example.com']);
    expect(allow.allows('example.com')).toBe(true);
    expect(allow.allows('www.example.com')).toBe(true);
    expect(allow.allows('a.b.c.example.com')).toBe(true);
    expect(allow.allows('*.example.com')).toBe(true);
  });

  it('matches at label boundaries only', () => {
    const allow = createAllowList(['example.com']);
    expect(allow.allows('badexample.com')).toBe(false);
    expect(allow.allows('www.badexample.com')).toBe(false);
    expect(allow.allows('example.com.evil.net')).toBe(false);
    expect(allow.allows('example.co')).toBe(false);
    expect(allow.allows('com')).toBe(false);
    expect(allow.allows('xexample.com')).toBe(false);
  });

  it.each(['*.example.com', '.example.com'])('%s allows only subdomains', (entry) => {
    const allow = createAllowList([entry]);
    expect(allow.allows('example.com')).toBe(false);
    expect(allow.allows('www.example.com')).toBe(true);
    expect(allow.allows('a.www.example.com')).toBe(true);
    expect(allow.allows('*.example.com')).toBe(true);
    expect(allow.allows('badexample.com')).toBe(false);
  });

  it('does not let a narrow entry allow a wider wildcard', () => {
    const allow = createAllowList(['www.example.com']);
    expect(allow.allows('www.example.com')).toBe(true);
    expect(allow.allows('*.example.com')).toBe(false);
    expect(allow.allows('*.www.example.com')).toBe(true);
    expect(allow.allows('example.com')).toBe(false);
  });

  it('combines several entries', () => {
    const allow = createAllowList(['example.com', '*.example.org', 'bücher.example']);
    expect(allow.rules).toHaveLength(3);
    expect(allow.allows('a.example.com')).toBe(true);
    expect(allow.allows('example.org')).toBe(false);
    expect(allow.allows('a.example.org')).toBe(true);
    expect(allow.allows('shop.xn--bcher-kva.example')).toBe(true);
    expect(allow.allows('example.net')).toBe(false);
  });

  it('fails on the first invalid entry', () => {
    expect(() => createAllowList(['example.com', 'bad/entry'])).toThrow(/bad\/entry/);
  });

  it('is frozen', () => {
    const allow = createAllowList(['example.com']);
    expect(Object.isFrozen(allow)).toBe(true);
    expect(Object.isFrozen(allow.rules)).toBe(true);
    expect(Object.isFrozen(allow.rules[0])).toBe(true);
  });
});
