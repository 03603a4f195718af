import { describe, it, expect } from 'vitest';
import { createAllowList } from '../../../src/plan/allow.js';
import { assemblePlan } from '../../../src/plan/planner.js';
import { planService } from '../../../src/plan/service.js';
import { fromStatic, nestedPrefixes, planStatic, staticKeyPrefix, type StaticPlanOptions } from '../../../src/plan/static.js';

const P = 'whisper/static';
const everything = createAllowList([]);

function plan(entries: Record<string, string>, options: StaticPlanOptions = {}, allow = everything) {
  return planStatic(P, new Map(Object.entries(entries)), allow, options);
}

/** One key's part, compactly. */
function one(key: string, value: string, options: StaticPlanOptions = {}, allow = everything) {
  const parts = plan({ [key]: value }, options, allow);
  expect(parts.length).toBeLessThanOrEqual(1);
  const part = parts[0];
  return part && {
    service: part.service,
    singles: part.singles.map((s) => s.id),
    vhosts: part.vhosts.map((v) => v.name),
    problems: part.problems.map((p) => [p.code, p.tag, p.message]),
  };
}

describe('planStatic: the value', () => {
  it('SAN puts <host>.<zone> in the zone\'s multi-host certificate, like a vhost tag', () => {
    expect(one(`${P}/example.com/www`, 'SAN')).toEqual({ service: `kv:${P}/example.com/www`, singles: [], vhosts: ['www.example.com'], problems: [] });
    expect(one(`${P}/example.com/www`, '  SAN\n')?.vhosts).toEqual(['www.example.com']);
  });

  it('any other value, the empty one included, gives <host>.<zone> a certificate of its own', () => {
    for (const value of ['', 'san', 'SAN2', 'yes', 'single']) {
      expect(one(`${P}/example.com/api`, value)).toEqual({ service: `kv:${P}/example.com/api`, singles: ['api.example.com'], vhosts: [], problems: [] });
    }
  });

  it('gives the same part a service with the same ask would give (the zone kept for the id)', () => {
    const [single] = plan({ [`${P}/example.com/web`]: '' });
    const service = planService({ name: 'web', tags: ['dns=example.com', 'ssl=on'] }, everything);
    expect(single?.singles).toEqual(service?.singles);
    const [vhost] = plan({ [`${P}/example.com/www`]: 'SAN' });
    const tagged = planService({ name: 'x', tags: ['dns=example.com', 'vhost=www', 'https=443'] }, everything);
    expect(vhost?.vhosts).toEqual(tagged?.vhosts);
  });

  it('joins a service\'s certificate: one certificate, both named', () => {
    const parts = [
      ...plan({ [`${P}/example.com/www`]: 'SAN', [`${P}/example.com/web`]: '' }),
      planService({ name: 'shop', tags: ['dns=example.com', 'vhost=shop', 'https=443'] }, everything)!,
      planService({ name: 'web', tags: ['dns=example.com', 'ssl=on'] }, everything)!,
    ];
    const { certs } = assemblePlan(parts, 100);
    const multi = certs.find((c) => c.kind === 'multi');
    expect(multi?.names).toEqual(['shop.example.com', 'www.example.com']);
    expect(multi?.services).toEqual(['kv:whisper/static/example.com/www', 'shop']);
    expect(certs.filter((c) => c.id === 'web.example.com').map((c) => c.services)).toEqual([['kv:whisper/static/example.com/web', 'web']]);
  });
});

describe('planStatic: the key', () => {
  it('skips a key that is not <zone>/<host> under the prefix, with a problem naming the key', () => {
    for (const key of [`${P}/example.com`, `${P}/example.com/`, `${P}/`, `${P}/example.com/a/b`, `${P}//www`, `${P}/example.com//`, `${P}/example.com/../x`, 'other/example.com/www']) {
      const part = one(key, 'SAN');
      expect(part, key).toMatchObject({ service: `kv:${key}`, singles: [], vhosts: [] });
      expect(part?.problems, key).toHaveLength(1);
      expect(part?.problems[0]?.[0]).toBe('HOSTNAME_INVALID');
      expect(part?.problems[0]?.[1]).toBeUndefined();
      expect(String(part?.problems[0]?.[2])).toContain(JSON.stringify(`kv:${key}`));
      expect(String(part?.problems[0]?.[2])).toContain(`"${P}/<zone>/<host>"`);
    }
  });

  it('refuses hostile names as tags are refused: problems naming the key, nothing planned', () => {
    const cases: Array<[string, string, string]> = [
      [`${P}/../x`, '', 'HOSTNAME_INVALID'],
      [`${P}/example.com/a b`, '', 'HOSTNAME_INVALID'],
      [`${P}/example.com/a b`, 'SAN', 'HOSTNAME_INVALID'],
      [`${P}/example.com/x\u200By`, '', 'HOSTNAME_INVALID'],
      [`${P}/example.com/-x`, 'SAN', 'HOSTNAME_INVALID'],
      [`${P}/example.com/${'a'.repeat(64)}`, '', 'HOSTNAME_INVALID'],
      [`${P}/example.com/*`, '', 'HOSTNAME_INVALID'],
      [`${P}/example.com/*`, 'SAN', 'DOMAIN_NOT_ALLOWED'],
      [`${P}/example.com/a*b`, 'SAN', 'HOSTNAME_INVALID'],
      [`${P}/example.com/multi-hosts`, '', 'HOSTNAME_INVALID'],
      [`${P}/example.com/multi-hosts-2`, '', 'HOSTNAME_INVALID'],
      [`${P}/a b.com/www`, '', 'HOSTNAME_INVALID'],
      [`${P}/10.0.0.1/www`, '', 'HOSTNAME_INVALID'],
      [`${P}/com/www\n`, '', 'HOSTNAME_INVALID'],
    ];
    for (const [key, value, code] of cases) {
      const part = one(key, value);
      expect(part, key).toMatchObject({ service: `kv:${key}`, singles: [], vhosts: [] });
      expect(part?.problems.map((p) => p[0]), key).toEqual([code]);
    }
    expect(one(`${P}/example.com/*`, 'SAN')?.problems[0]?.[2]).toContain('--allow-wildcard');
  });

  it('refuses a single-host id too long for a file name', () => {
    const host = Array.from({ length: 3 }, () => 'a'.repeat(63)).join('.');
    expect(one(`${P}/example.com/${host}`, '')?.problems[0]?.[2]).toContain('too long for a certificate file name');
    // The same name in the multi-host certificate is not a file name: allowed, as for a vhost tag.
    expect(one(`${P}/example.com/${host}`, 'SAN')?.vhosts).toEqual([`${host}.example.com`]);
  });

  it('normalizes case, trailing dots and IDN as for tags', () => {
    expect(one(`${P}/Example.COM./WWW`, 'SAN')?.vhosts).toEqual(['www.example.com']);
    expect(one(`${P}/bücher.example/Shop`, '')?.singles).toEqual(['shop.xn--bcher-kva.example']);
    expect(one(`${P}/example.com/a.b`, '')?.singles).toEqual(['a.b.example.com']);
  });

  it('asks for *.<zone> with SAN and --allow-wildcard', () => {
    expect(one(`${P}/example.com/*`, 'SAN', { allowWildcard: true })?.vhosts).toEqual(['*.example.com']);
    expect(one(`${P}/example.com/*`, '', { allowWildcard: true })?.problems.map((p) => p[0])).toEqual(['HOSTNAME_INVALID']);
  });

  it('refuses a name outside --allow-domain', () => {
    const allow = createAllowList(['example.com']);
    expect(one(`${P}/example.org/www`, 'SAN', {}, allow)?.problems.map((p) => p[0])).toEqual(['DOMAIN_NOT_ALLOWED']);
    expect(one(`${P}/example.org/www`, '', {}, allow)?.problems.map((p) => p[0])).toEqual(['DOMAIN_NOT_ALLOWED']);
    expect(one(`${P}/example.com/www`, '', {}, allow)?.singles).toEqual(['www.example.com']);
  });

  it('leaves a zone outside --domain out silently, as whisper did', () => {
    const domains = new Set(['example.com']);
    expect(one(`${P}/example.org/www`, 'SAN', { domains })).toBeUndefined();
    expect(one(`${P}/sub.example.com/www`, '', { domains })).toBeUndefined();
    expect(one(`${P}/example.com/www`, '', { domains })?.singles).toEqual(['www.example.com']);
  });

  it('leaves the keys of a nested listen path to its own watcher', () => {
    const entries = { [`${P}/example.com/www`]: '', [`${P}/inner/example.com/api`]: '' };
    expect(nestedPrefixes(P, [P, `${P}/inner`, 'whisper/static2', 'whisper'])).toEqual([`${P}/inner`]);
    expect(plan(entries, { nested: [`${P}/inner`] }).map((p) => p.service)).toEqual([`kv:${P}/example.com/www`]);
    expect(plan(entries).map((p) => p.problems.length)).toEqual([0, 1]);
  });

  it('is ordered by key whatever the order of the entries, and pure', () => {
    const a = planStatic(P, new Map([[`${P}/b.com/x`, ''], [`${P}/a.com/y`, 'SAN']]), everything);
    const b = planStatic(P, new Map([[`${P}/a.com/y`, 'SAN'], [`${P}/b.com/x`, '']]), everything);
    expect(a).toEqual(b);
    expect(a.map((p) => p.service)).toEqual([`kv:${P}/a.com/y`, `kv:${P}/b.com/x`]);
    expect(Object.isFrozen(a[0])).toBe(true);
  });

  it('names helpers: the listed prefix keeps its slash, and static problems are told apart', () => {
    expect(staticKeyPrefix(P)).toBe(`${P}/`);
    expect(fromStatic('kv:x/y/z')).toBe(true);
    expect(fromStatic('a, kv:x/y/z')).toBe(true);
    expect(fromStatic('web')).toBe(false);
  });
});
