import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { planCertificates, type Plan } from '../../../src/plan/planner.js';
import type { ServiceTags } from '../../../src/plan/types.js';

/** The text without C0 control characters: equal to the input when it has none. */
const stripControl = (text: string): string => [...text].filter((ch) => ch.charCodeAt(0) >= 0x20).join('');

const svc = (name: string, ...tags: string[]): ServiceTags => ({ name, tags });
const ids = (plan: Plan): string[] => plan.certs.map((cert) => cert.id);
const cert = (plan: Plan, id: string) => plan.certs.find((c) => c.id === id);

describe('planCertificates: the contract table', () => {
  it('dns + vhost + https: the vhosts join the multi-host certificate of the zone', () => {
    const plan = planCertificates([svc('web', 'dns=example.com', 'vhost=www', 'vhost=api', 'https=443')]);
    expect(plan.certs).toEqual([
      { id: 'multi-hosts.example.com', kind: 'multi', zone: 'example.com', names: ['api.example.com', 'www.example.com'], services: ['web'] },
    ]);
    expect(plan.problems).toEqual([]);
  });

  it('dns + vhost + ssl: same multi-host certificate', () => {
    const plan = planCertificates([svc('web', 'dns=example.com', 'vhost=www', 'vhost=api', 'ssl=on')]);
    expect(ids(plan)).toEqual(['multi-hosts.example.com']);
  });

  it('a zone with one vhost: its certificate is the name, as whisper named it (multi-hosts only with two or more)', () => {
    const plan = planCertificates([svc('web', 'dns=example.com', 'vhost=www', 'https=443')]);
    expect(plan.certs).toEqual([
      { id: 'www.example.com', kind: 'single', zone: 'example.com', names: ['www.example.com'], services: ['web'] },
    ]);
    expect(plan.problems).toEqual([]);
  });

  it('a lone vhost <svc>.<zone> and the service certificate <svc>.<zone> are one certificate', () => {
    const plan = planCertificates([svc('www', 'dns=example.com', 'ssl=on'), svc('web', 'dns=example.com', 'vhost=www', 'https=443')]);
    expect(plan.certs).toEqual([
      { id: 'www.example.com', kind: 'single', zone: 'example.com', names: ['www.example.com'], services: ['web', 'www'] },
    ]);
  });

  it('every vhost of the zone, from every service, is one SAN list', () => {
    const plan = planCertificates([
      svc('web', 'dns=example.com', 'vhost=www', 'vhost=blog', 'https=443'),
      svc('api', 'dns=example.com', 'vhost=api', 'ssl=true'),
      svc('shop', 'dns=example.org', 'vhost=shop', 'https=443'),
    ]);
    expect(plan.certs).toEqual([
      {
        id: 'multi-hosts.example.com',
        kind: 'multi',
        zone: 'example.com',
        names: ['api.example.com', 'blog.example.com', 'www.example.com'],
        services: ['api', 'web'],
      },
      { id: 'shop.example.org', kind: 'single', zone: 'example.org', names: ['shop.example.org'], services: ['shop'] },
    ]);
  });

  it('dns + ssl without vhost: <service>.<zone> gets a certificate of its own', () => {
    const plan = planCertificates([svc('grafana', 'dns=example.com', 'ssl=on')]);
    expect(plan.certs).toEqual([
      { id: 'grafana.example.com', kind: 'single', zone: 'example.com', names: ['grafana.example.com'], services: ['grafana'] },
    ]);
  });

  it.each([
    ['dns only', ['dns=example.com']],
    ['dns + https, no vhost', ['dns=example.com', 'https=443']],
    ['dns + vhost, no https/ssl', ['dns=example.com', 'vhost=www']],
    ['vhost + https, no dns', ['vhost=www', 'https=443']],
    ['ssl, no dns', ['ssl=on']],
    ['tags without =', ['dns', 'vhost', 'ssl', 'https']],
    ['keys in another case', ['DNS=example.com', 'SSL=on']],
    ['no tags', []],
  ])('anything else gives no certificate (%s)', (_label, tags) => {
    const plan = planCertificates([svc('web', ...tags)]);
    expect(plan).toEqual({ certs: [], problems: [] });
  });

  it('handles each of several dns= tags', () => {
    const plan = planCertificates([
      svc('web', 'dns=example.com', 'dns=example.org', 'vhost=www', 'https=443'),
      svc('db', 'dns=example.com', 'dns=example.net', 'ssl=on'),
    ]);
    expect(ids(plan)).toEqual(['db.example.com', 'db.example.net', 'www.example.com', 'www.example.org']);
    expect(cert(plan, 'www.example.org')?.services).toEqual(['web']);
  });

  it('counts a vhost on several services (different url_prefix) once', () => {
    const plan = planCertificates([
      svc('front', 'dns=example.com', 'vhost=www', 'url_prefix=/', 'https=443'),
      svc('api', 'dns=example.com', 'vhost=www', 'url_prefix=/api', 'https=443'),
      svc('docs', 'dns=example.com', 'vhost=WWW', 'url_prefix=/docs', 'ssl=on'),
    ]);
    expect(plan.certs).toEqual([
      { id: 'www.example.com', kind: 'single', zone: 'example.com', names: ['www.example.com'], services: ['api', 'docs', 'front'] },
    ]);
  });

  it('reads repeated keys and ignores duplicates', () => {
    const plan = planCertificates([
      svc('web', 'dns=example.com', 'dns=EXAMPLE.com.', 'vhost=b', 'vhost=a', 'vhost=b', 'https=443', 'https=8443'),
    ]);
    expect(plan.certs).toHaveLength(1);
    expect(plan.certs[0]?.names).toEqual(['a.example.com', 'b.example.com']);
  });

  it('normalizes case, trailing dots and IDN', () => {
    const plan = planCertificates([
      svc('Shop', 'dns=Bücher.Example.', 'ssl=on'),
      svc('web', 'dns=bücher.example', 'vhost=Straße', 'https=443'),
    ]);
    expect(ids(plan)).toEqual(['shop.xn--bcher-kva.example', 'xn--strae-oqa.xn--bcher-kva.example']);
    expect(cert(plan, 'xn--strae-oqa.xn--bcher-kva.example')?.names).toEqual(['xn--strae-oqa.xn--bcher-kva.example']);
    expect(cert(plan, 'shop.xn--bcher-kva.example')?.services).toEqual(['Shop']);
  });

  it('allows a service name or vhost with dots, as whisper concatenated them', () => {
    const plan = planCertificates([svc('api.v2', 'dns=example.com', 'ssl=on'), svc('w', 'dns=example.com', 'vhost=a.b', 'ssl=on')]);
    expect(ids(plan)).toEqual(['a.b.example.com', 'api.v2.example.com']);
    expect(cert(plan, 'a.b.example.com')?.names).toEqual(['a.b.example.com']);
  });

  it('merges one single-host name reached from two zones, keeping the more specific zone', () => {
    const plan = planCertificates([svc('www.a', 'dns=example.com', 'ssl=on'), svc('www', 'dns=a.example.com', 'ssl=on')]);
    expect(plan.certs).toEqual([
      { id: 'www.a.example.com', kind: 'single', zone: 'a.example.com', names: ['www.a.example.com'], services: ['www', 'www.a'] },
    ]);
  });
});

// The wildcard rules (vhost=*, --allow-wildcard) are in wildcard.test.ts.

describe('planCertificates: hostile and invalid input', () => {
  it.each([
    '../../etc',
    '..',
    'a/b',
    'a\\b',
    'a\u0000b',
    'a\u001bb',
    'a b',
    '',
    'x'.repeat(64),
    'under_score',
    '-lead',
    'trail-',
    '%2e%2e',
    'www.',
  ])('skips vhost=%j with a problem, keeping the service’s other vhosts', (vhost) => {
    const plan = planCertificates([svc('web', 'dns=example.com', `vhost=${vhost}`, 'vhost=good', 'https=443')]);
    expect(plan.certs).toHaveLength(1);
    expect(plan.certs[0]?.names).toEqual(['good.example.com']);
    expect(plan.problems).toEqual([
      expect.objectContaining({ service: 'web', tag: `vhost=${vhost.trim()}`, code: 'HOSTNAME_INVALID' }),
    ]);
    expect(plan.problems[0]?.message).toBe(stripControl(plan.problems[0]?.message ?? ''));
  });

  it.each(['', '../example.com', 'example.com/..', 'com', 'example..com', '10.0.0.1', 'exa mple.com', 'example.com\u0000'])(
    'skips dns=%j with a problem, keeping the other zones',
    (zone) => {
      const plan = planCertificates([svc('web', `dns=${zone}`, 'dns=example.org', 'vhost=www', 'https=443')]);
      expect(ids(plan)).toEqual(['www.example.org']);
      expect(plan.problems).toEqual([expect.objectContaining({ service: 'web', tag: `dns=${zone}`, code: 'HOSTNAME_INVALID' })]);
      expect(plan.problems[0]?.message).toContain('invalid zone');
    },
  );

  it.each(['../x', 'a/b', 'my_service', 'UPPER/..', 'x'.repeat(64), ''])('skips an invalid service name %j for a single-host certificate', (name) => {
    const plan = planCertificates([svc(name, 'dns=example.com', 'ssl=on'), svc('ok', 'dns=example.com', 'ssl=on')]);
    expect(ids(plan)).toEqual(['ok.example.com']);
    expect(plan.problems).toEqual([expect.objectContaining({ service: name, tag: 'dns=example.com', code: 'HOSTNAME_INVALID' })]);
  });

  it('rejects a 254-character name built from a valid vhost and zone', () => {
    const zone = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`;
    const plan = planCertificates([svc('web', `dns=${zone}`, `vhost=${'a'.repeat(58)}`, 'https=443')]);
    expect(plan.certs).toEqual([]);
    expect(plan.problems[0]?.message).toContain('longer than 253');
  });

  it('refuses a single-host name that would take a multi-host file name', () => {
    const plan = planCertificates([
      svc('multi-hosts', 'dns=example.com', 'ssl=on'),
      svc('multi-hosts-2', 'dns=example.com', 'ssl=on'),
      svc('multi-hosts.a', 'dns=example.com', 'ssl=on'),
      svc('multi-hostsx', 'dns=example.com', 'ssl=on'),
      svc('web', 'dns=example.com', 'vhost=multi-hosts', 'ssl=on'),
    ]);
    expect(ids(plan)).toEqual(['multi-hosts.example.com', 'multi-hostsx.example.com']);
    expect(cert(plan, 'multi-hosts.example.com')?.names).toEqual(['multi-hosts.example.com']);
    expect(plan.problems.map((p) => p.service)).toEqual(['multi-hosts', 'multi-hosts-2', 'multi-hosts.a']);
    expect(plan.problems.every((p) => p.message.includes('reserved'))).toBe(true);
  });

  it('refuses ids too long for a file name', () => {
    const zone = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`;
    const plan = planCertificates([svc('aaaaaa', `dns=${zone}`, 'ssl=on'), svc('web', `dns=${zone}`, 'vhost=www', 'vhost=api', 'https=443')]);
    expect(plan.certs).toEqual([]);
    expect(plan.problems.map((p) => [p.service, p.code])).toEqual([
      ['aaaaaa', 'HOSTNAME_INVALID'],
      ['web', 'HOSTNAME_INVALID'],
    ]);
    expect(plan.problems.every((p) => p.message.includes('file name'))).toBe(true);
  });

  it('gives a lone vhost its own id when that fits a file name, and keeps it in multi-hosts.<zone> when not', () => {
    const zone = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`;
    // 199 characters: its own file.
    expect(ids(planCertificates([svc('web', `dns=${zone}`, 'vhost=www', 'https=443')]))).toEqual([`www.${zone}`]);
    // 202 characters: too long for an id of its own, and multi-hosts.<zone> too (207): refused.
    const long = planCertificates([svc('web', `dns=${zone}`, 'vhost=wwwxyz', 'https=443')]);
    expect(long.certs).toEqual([]);
    expect(long.problems.map((p) => p.code)).toEqual(['HOSTNAME_INVALID']);
    // A lone vhost whose first label is reserved stays multi-hosts.<zone>: its own id would be a multi-host id.
    const nested = planCertificates([svc('web', 'dns=example.com', 'vhost=multi-hosts.a', 'https=443')]);
    expect(nested.certs).toEqual([
      { id: 'multi-hosts.example.com', kind: 'multi', zone: 'example.com', names: ['multi-hosts.a.example.com'], services: ['web'] },
    ]);
  });

  it('produces ids that are safe file names', () => {
    const plan = planCertificates([
      svc('Web', 'dns=Example.COM.', 'vhost=*', 'vhost=www', 'https=443'),
      svc('A', 'dns=bücher.example', 'ssl=on'),
    ], { allowWildcard: true });
    expect(plan.certs).toHaveLength(2);
    for (const c of plan.certs) {
      expect(c.id).toMatch(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/);
      expect(c.id).not.toContain('..');
      expect(c.id.length).toBeLessThanOrEqual(200);
    }
  });
});

describe('planCertificates: allow-list', () => {
  const services = [
    svc('web', 'dns=example.com', 'vhost=www', 'vhost=*', 'https=443'),
    svc('api', 'dns=example.com', 'ssl=on'),
    svc('evil', 'dns=badexample.com', 'vhost=www', 'ssl=on'),
    svc('other', 'dns=example.org', 'ssl=on'),
  ];

  it('keeps names under an allowed domain and reports the others', () => {
    const plan = planCertificates(services, { allowDomains: ['example.com'], allowWildcard: true });
    expect(ids(plan)).toEqual(['api.example.com', 'multi-hosts.example.com']);
    expect(cert(plan, 'multi-hosts.example.com')?.names).toEqual(['*.example.com', 'www.example.com']);
    expect(plan.problems.map((p) => [p.service, p.tag, p.code])).toEqual([
      ['evil', 'vhost=www', 'DOMAIN_NOT_ALLOWED'],
      ['other', 'dns=example.org', 'DOMAIN_NOT_ALLOWED'],
    ]);
    expect(plan.problems[0]?.message).toContain('"www.badexample.com"');
  });

  it('applies a narrow entry to each name, not the zone', () => {
    const plan = planCertificates(services, { allowDomains: ['www.example.com'], allowWildcard: true });
    expect(ids(plan)).toEqual(['www.example.com']);
    expect(cert(plan, 'www.example.com')?.names).toEqual(['www.example.com']);
    expect(plan.problems.map((p) => [p.service, p.tag, p.code])).toEqual([
      ['api', 'dns=example.com', 'DOMAIN_NOT_ALLOWED'],
      ['evil', 'vhost=www', 'DOMAIN_NOT_ALLOWED'],
      ['other', 'dns=example.org', 'DOMAIN_NOT_ALLOWED'],
      ['web', 'vhost=*', 'DOMAIN_NOT_ALLOWED'],
    ]);
  });

  it('allows everything with an empty list', () => {
    expect(planCertificates(services, { allowDomains: [], allowWildcard: true }).certs).toHaveLength(4);
  });

  it('throws CONFIG_INVALID for an invalid entry', () => {
    expect(() => planCertificates(services, { allowDomains: ['../etc'] })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});

describe('planCertificates: splitting', () => {
  const vhosts = (n: number): string[] => Array.from({ length: n }, (_, i) => `vhost=h${String(i).padStart(3, '0')}`);

  it('keeps exactly 100 names in one certificate', () => {
    const plan = planCertificates([svc('web', 'dns=example.com', 'https=443', ...vhosts(100))]);
    expect(ids(plan)).toEqual(['multi-hosts.example.com']);
    expect(plan.certs[0]?.names).toHaveLength(100);
    expect(plan.problems).toEqual([]);
  });

  it('splits 101 names in sorted chunks with a TOO_MANY_NAMES problem', () => {
    const plan = planCertificates([
      svc('b', 'dns=example.com', 'https=443', ...vhosts(60)),
      svc('a', 'dns=example.com', 'https=443', ...vhosts(101).slice(60)),
    ]);
    expect(ids(plan)).toEqual(['multi-hosts-2.example.com', 'multi-hosts.example.com']);
    const first = cert(plan, 'multi-hosts.example.com');
    const second = cert(plan, 'multi-hosts-2.example.com');
    expect(first?.names).toHaveLength(100);
    expect(first?.names[0]).toBe('h000.example.com');
    expect(first?.names[99]).toBe('h099.example.com');
    expect(first?.services).toEqual(['a', 'b']);
    expect(second).toEqual({ id: 'multi-hosts-2.example.com', kind: 'multi', zone: 'example.com', names: ['h100.example.com'], services: ['a'] });
    expect(plan.problems).toEqual([
      expect.objectContaining({ service: 'a, b', tag: 'dns=example.com', code: 'TOO_MANY_NAMES' }),
    ]);
    expect(plan.problems[0]?.message).toContain('multi-hosts-2.example.com');
  });

  it('honours maxNames', () => {
    const plan = planCertificates([svc('web', 'dns=example.com', 'https=443', ...vhosts(7))], { maxNames: 3 });
    expect(plan.certs.map((c) => [c.id, c.names.length])).toEqual([
      ['multi-hosts-2.example.com', 3],
      ['multi-hosts-3.example.com', 1],
      ['multi-hosts.example.com', 3],
    ]);
  });

  it.each([0, -1, 1.5, Number.NaN])('throws CONFIG_INVALID for maxNames=%s', (maxNames) => {
    let caught: unknown;
    try {
      planCertificates([], { maxNames });
    } catch (err) {
      caught = err;
    }
    expect(isWhisperError(caught, 'CONFIG_INVALID')).toBe(true);
  });
});

describe('planCertificates: determinism', () => {
  const services = [
    svc('web', 'dns=example.com', 'vhost=www', 'vhost=*', 'https=443', 'dns=example.org'),
    svc('api', 'dns=example.com', 'vhost=api', 'ssl=on'),
    svc('db', 'dns=example.com', 'ssl=on'),
    svc('bad', 'dns=../x', 'ssl=on', 'dns=a..b'),
    svc('zz', 'dns=example.net', 'vhost=a/b', 'vhost=c', 'https=1'),
  ];

  it.each([false, true])('gives an equal plan for any order of services and tags (allowWildcard %s)', (allowWildcard) => {
    const a = planCertificates(services, { allowWildcard });
    const b = planCertificates([...services].reverse().map((s) => svc(s.name, ...[...s.tags].reverse())), { allowWildcard });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(ids(a)).toEqual([...ids(a)].sort());
  });

  it('freezes everything it returns', () => {
    const plan = planCertificates(services);
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.certs)).toBe(true);
    expect(Object.isFrozen(plan.problems)).toBe(true);
    for (const c of plan.certs) {
      expect(Object.isFrozen(c)).toBe(true);
      expect(Object.isFrozen(c.names)).toBe(true);
      expect(Object.isFrozen(c.services)).toBe(true);
    }
    expect(plan.problems.length).toBeGreaterThan(0);
    for (const p of plan.problems) expect(Object.isFrozen(p)).toBe(true);
  });

  it('does not modify its input', () => {
    const input = [svc('web', 'dns=example.com', 'vhost=b', 'vhost=a', 'https=443')];
    const copy = JSON.parse(JSON.stringify(input));
    planCertificates(input);
    expect(input).toEqual(copy);
  });
});
