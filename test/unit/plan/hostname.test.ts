import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { isValidZone, normalizeHostname } from '../../../src/plan/hostname.js';

/** The text without C0 control characters: equal to the input when it has none. */
const stripControl = (text: string): string => [...text].filter((ch) => ch.charCodeAt(0) >= 0x20).join('');

function rejection(input: string, allowWildcard = false): string {
  try {
    normalizeHostname(input, { allowWildcard });
  } catch (err) {
    expect(isWhisperError(err, 'HOSTNAME_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('normalizeHostname', () => {
  it.each([
    ['www.example.com', 'www.example.com'],
    ['WWW.Example.COM', 'www.example.com'],
    ['www.example.com.', 'www.example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['BÜCHER.example', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['ＥＸＡＭＰＬＥ.com', 'example.com'],
    ['a.com\u3002', 'a.com'],
    ['a-b.c-d.example', 'a-b.c-d.example'],
    ['123.example.com', '123.example.com'],
    ['x.com', 'x.com'],
  ])('normalizes %j to %j', (input, expected) => {
    expect(normalizeHostname(input)).toBe(expected);
  });

  it('accepts a label of 63 and a name of 253 characters', () => {
    const label63 = 'a'.repeat(63);
    expect(normalizeHostname(`${label63}.com`)).toBe(`${label63}.com`);
    const name253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(name253).toHaveLength(253);
    expect(normalizeHostname(name253)).toBe(name253);
    expect(normalizeHostname(`${name253}.`)).toBe(name253);
  });

  it.each([
    ['', 'empty'],
    ['../etc/passwd', 'path character'],
    ['..', "'..'"],
    ['a..example.com', "'..'"],
    ['www.example.com..', "'..'"],
    ['.example.com', 'empty label'],
    ['a.example.com\u3002\u3002', 'empty label'],
    ['.', 'empty label'],
    ['a/b.example.com', 'path character'],
    ['a\\b.example.com', 'path character'],
    ['a b.example.com', 'white space'],
    ['a\tb.example.com', 'white space'],
    ['www.example.com\n', 'white space'],
    ['a\u00a0b.example.com', 'white space'],
    ['a\u0000b.example.com', 'control or invisible'],
    ['a\u0007b.example.com', 'control or invisible'],
    ['a\u007fb.example.com', 'control or invisible'],
    ['a\u200bb.example.com', 'control or invisible'],
    ['a\u00adb.example.com', 'control or invisible'],
    ['a\u202eb.example.com', 'control or invisible'],
    ['%41.example.com', 'character "%"'],
    ['a_b.example.com', 'character "_"'],
    ['a:b.example.com', 'character ":"'],
    ['a@b.example.com', 'character "@"'],
    ['a\uff0fb.example.com', 'internationalized'],
    ['xn--zz.example.com', 'internationalized'],
    [`${'a'.repeat(64)}.com`, 'longer than 63'],
    ['-www.example.com', 'hyphen'],
    ['www-.example.com', 'hyphen'],
    ['ab--cd.example.com', "'--'"],
    ['localhost', 'single label'],
    ['com.', 'single label'],
    ['example.123', 'numeric'],
    ['example.0x1f', 'numeric'],
    ['0x7f.1', 'numeric'],
    ['1.2.3.4', 'IP address'],
    ['::1', 'IP address'],
    ['[2001:db8::1]', 'IP address'],
    ['*.example.com', "'*'"],
    ['x'.repeat(5000), 'longer than 253'],
  ])('rejects %j (%s)', (input, reason) => {
    expect(rejection(input)).toContain(reason);
  });

  it('rejects a name over 253 characters', () => {
    const name254 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`;
    expect(name254).toHaveLength(254);
    expect(rejection(name254)).toContain('longer than 253');
  });

  it('counts the punycode length, not the Unicode length', () => {
    const label = 'ü'.repeat(60);
    expect(rejection(`${label}.example`)).toContain('longer than 63');
  });

  it('names the input escaped, with control characters visible', () => {
    const message = rejection('evil\u0000\u001b[31m.example.com');
    expect(message).toContain('"evil\\u0000\\u001b[31m.example.com"');
    expect(message).toBe(stripControl(message));
    expect(rejection('a\u2028b.example.com')).toContain('\\u2028');
  });

  it('shortens a very long input in the message', () => {
    const message = rejection('y'.repeat(5000));
    expect(message.length).toBeLessThan(500);
    expect(message).toContain('(5000 chars)');
  });

  describe('wildcards', () => {
    it('accepts * as the whole first label when allowed', () => {
      expect(normalizeHostname('*.Example.COM.', { allowWildcard: true })).toBe('*.example.com');
      expect(normalizeHostname('*.bücher.example', { allowWildcard: true })).toBe('*.xn--bcher-kva.example');
    });

    it.each(['*', '*.', '*.com', 'a.*.example.com', '*.*.example.com', 'www.example.*', 'w*.example.com', '**.example.com', '*a.example.com'])(
      'rejects %j even when allowed',
      (input) => {
        expect(rejection(input, true)).toMatch(/'\*'|single label/);
      },
    );

    it('keeps the 253 limit with the wildcard counted', () => {
      const base = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
      expect(rejection(`*.${base}`, true)).toContain('longer than 253');
    });
  });
});

describe('isValidZone', () => {
  it('accepts zones and rejects everything normalizeHostname rejects', () => {
    expect(isValidZone('example.com')).toBe(true);
    expect(isValidZone('Example.COM.')).toBe(true);
    expect(isValidZone('bücher.example')).toBe(true);
    expect(isValidZone('com')).toBe(false);
    expect(isValidZone('*.example.com')).toBe(false);
    expect(isValidZone('../example.com')).toBe(false);
    expect(isValidZone('')).toBe(false);
    expect(isValidZone('10.0.0.1')).toBe(false);
  });
});
