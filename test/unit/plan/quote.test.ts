import { describe, it, expect } from 'vitest';
import { quote } from '../../../src/plan/quote.js';

describe('quote', () => {
  it('uses JSON string syntax and keeps ordinary text readable', () => {
    expect(quote('www.example.com')).toBe('"www.example.com"');
    expect(quote('a b "c"')).toBe('"a b \\"c\\""');
    expect(quote('bücher')).toBe('"bücher"');
  });

  it('makes control, C1, format and separator characters visible', () => {
    expect(quote('a\u0000b\nc')).toBe('"a\\u0000b\\nc"');
    expect(quote('\u0085\u00a0\u200b\u202e\u2028\u2029\ufeff')).toBe(
      '"\\u0085\\u00a0\\u200b\\u202e\\u2028\\u2029\\ufeff"',
    );
  });

  it('cuts long values and says how long they were', () => {
    const shown = quote('z'.repeat(1000));
    expect(shown).toBe(`"${'z'.repeat(300)}"…(1000 chars)`);
  });
});
