import { describe, it, expect } from 'vitest';
import { parseTags } from '../../../src/plan/tags.js';

describe('parseTags', () => {
  it('splits key=value at the first =', () => {
    const tags = parseTags(['dns=example.com', 'url_prefix=/a=b', 'x==']);
    expect(tags.get('dns')).toEqual(['example.com']);
    expect(tags.get('url_prefix')).toEqual(['/a=b']);
    expect(tags.get('x')).toEqual(['=']);
  });

  it('makes a repeated key a list, de-duplicated, first-seen order kept', () => {
    const tags = parseTags(['vhost=b', 'vhost=a', 'vhost=b', 'vhost=c', 'vhost= a ']);
    expect(tags.get('vhost')).toEqual(['b', 'a', 'c']);
  });

  it('ignores tags without =, with an empty key, and non-strings', () => {
    const tags = parseTags(['traefik', 'urlprefix-/', '=value', '  =x', 42 as unknown as string]);
    expect([...tags.keys()]).toEqual([]);
  });

  it('trims surrounding white space only and keeps keys case-sensitive', () => {
    const tags = parseTags([' dns = Example.com ', 'DNS=other.com', 'v host=x']);
    expect(tags.get('dns')).toEqual(['Example.com']);
    expect(tags.get('DNS')).toEqual(['other.com']);
    expect(tags.get('v host')).toEqual(['x']);
    expect(tags.has('vhost')).toBe(false);
  });

  it('keeps an empty value so it can be reported', () => {
    const tags = parseTags(['ssl=', 'dns=']);
    expect(tags.get('ssl')).toEqual(['']);
    expect(tags.get('dns')).toEqual(['']);
  });

  it('returns an empty map for no tags', () => {
    expect(parseTags([]).size).toBe(0);
  });
});
