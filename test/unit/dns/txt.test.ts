import { describe, it, expect } from 'vitest';
import { quoteTxt, unquoteTxt } from '../../../src/dns/txt.js';

describe('quoteTxt', () => {
  it('wraps a plain value in double quotes', () => {
    expect(quoteTxt('LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0')).toBe('"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"');
  });

  it('escapes quotes and backslashes', () => {
    expect(quoteTxt('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it('keeps spaces and writes bytes outside printable ASCII as octal escapes', () => {
    expect(quoteTxt('a b')).toBe('"a b"');
    expect(quoteTxt('tab\there')).toBe('"tab\\011here"');
    expect(quoteTxt('é')).toBe('"\\303\\251"');
  });

  it('splits values longer than 255 bytes into several strings', () => {
    const value = 'x'.repeat(300);
    const quoted = quoteTxt(value);
    expect(quoted).toBe(`"${'x'.repeat(255)}" "${'x'.repeat(45)}"`);
    expect(quoteTxt('y'.repeat(510))).toBe(`"${'y'.repeat(255)}" "${'y'.repeat(255)}"`);
  });

  it('counts the 255-byte limit on the raw value, not on its escaped form', () => {
    const value = '"'.repeat(256);
    expect(quoteTxt(value)).toBe(`"${'\\"'.repeat(255)}" "\\""`);
  });

  it('writes an empty value as one empty string', () => {
    expect(quoteTxt('')).toBe('""');
  });
});

describe('unquoteTxt', () => {
  it('is the inverse of quoteTxt', () => {
    for (const v of ['abc', 'a"b\\c', 'x'.repeat(300), 'é and tab\t', '', 'spaces in  value']) {
      expect(unquoteTxt(quoteTxt(v))).toBe(v);
    }
  });

  it('concatenates several character-strings', () => {
    expect(unquoteTxt('"abc" "def"')).toBe('abcdef');
  });

  it('accepts unquoted words and decimal escapes', () => {
    expect(unquoteTxt('abc')).toBe('abc');
    expect(unquoteTxt('"\\089"')).toBe('Y');
  });

  it('decodes Route53 octal escapes', () => {
    expect(unquoteTxt('"\\052.example"')).toBe('*.example');
  });
});
