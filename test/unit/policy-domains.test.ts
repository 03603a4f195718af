import { describe, expect, it } from 'vitest';
import { parseStaticDomains, planDomains } from '../../src/plan/domains.js';
import { createAllowList } from '../../src/plan/allow.js';
import { IncrementalPlanner } from '../../src/plan/incremental.js';
import { buildConfig } from '../../src/config.js';

const any = createAllowList([]);

describe('parseStaticDomains (DOMAINS)', () => {
  it('reads one certificate per ;- or space-separated entry, names comma-separated', () => {
    expect(parseStaticDomains('Example.com,www.example.com; api.example.org  a.example.net,')).toEqual([
      ['example.com', 'www.example.com'], ['api.example.org'], ['a.example.net'],
    ]);
    expect(parseStaticDomains(undefined)).toEqual([]);
    expect(parseStaticDomains(' ; ,')).toEqual([]);
  });

  it('names the option and the entry of a bad name', () => {
    expect(() => parseStaticDomains('ok.example.com;bad_name.example.com,x.example.com', 'DOMAINS')).toThrow(/^DOMAINS: entry "bad_name\.example\.com,x\.example\.com": invalid hostname/);
  });

  it('comes from DOMAINS in the config', () => {
    const config = buildConfig('certs', {}, { env: { DOMAINS: 'example.com,www.example.com' }, cwd: '/srv' });
    expect(config.staticDomains).toEqual([['example.com', 'www.example.com']]);
    expect(() => buildConfig('certs', {}, { env: { DOMAINS: 'a..b' }, cwd: '/srv' })).toThrow(/--static-domains: entry "a\.\.b"/);
  });
});

describe('planDomains', () => {
  it('names a certificate after its one name, or its first plain name, in the names\' zone', () => {
    const { certs, problems } = planDomains('file', [['www.example.com'], ['example.com', '*.example.com'], ['a.x.example.org', 'b.x.example.org']], any, { allowWildcard: true });
    expect(problems).toEqual([]);
    expect(certs).toEqual([
      { service: 'file:www.example.com', id: 'www.example.com', zone: 'example.com', names: ['www.example.com'] },
      { service: 'file:example.com,*.example.com', id: 'example.com', zone: 'example.com', names: ['*.example.com', 'example.com'] },
      { service: 'file:a.x.example.org,b.x.example.org', id: 'a.x.example.org', zone: 'x.example.org', names: ['a.x.example.org', 'b.x.example.org'] },
    ]);
  });

  it('applies the allow-list, --allow-wildcard and --domain as to tags', () => {
    const allow = createAllowList(['example.com']);
    const r = planDomains('env', [['www.example.com', 'www.evil.com'], ['*.example.com', 'example.com'], ['a.b.example.com']], allow, { domains: new Set(['b.example.com']) });
    expect(r.certs.map((c) => [c.id, c.zone])).toEqual([['a.b.example.com', 'b.example.com']]);
    expect(r.problems.map((p) => [p.service, p.code])).toEqual([
      ['env:www.example.com,www.evil.com', 'DOMAIN_NOT_ALLOWED'],
      ['env:*.example.com,example.com', 'DOMAIN_NOT_ALLOWED'],
    ]);
  });

  it('refuses names of no common zone, a wildcard alone and reserved file names', () => {
    const r = planDomains('file', [['a.example.com', 'b.example.org'], ['*.example.com'], ['multi-hosts.example.com']], any, { allowWildcard: true });
    expect(r.certs).toEqual([]);
    expect(r.problems.map((p) => p.code)).toEqual(['HOSTNAME_INVALID', 'HOSTNAME_INVALID', 'HOSTNAME_INVALID']);
    expect(r.problems[1]!.message).toMatch(/add a plain name/);
  });
});

describe('IncrementalPlanner with static domains', () => {
  const services = new Map([['web', ['dns=example.com', 'vhost=www', 'vhost=api', 'https=443']], ['shop', ['dns=example.org', 'ssl=true']]]);

  it('merges the file\'s and the environment\'s certificates after the catalog; a conflict leaves the later one out', () => {
    const planner = new IncrementalPlanner({ staticDomains: [['static.example.net'], ['www.example.com', 'example.com']] });
    planner.update(services, 'all');
    const plan = planner.updateDomains('file', [['shop.example.org'], ['static.example.net', 'x.example.net']]);
    expect(plan.certs.map((c) => [c.id, c.services.join(' ')])).toEqual([
      ['multi-hosts.example.com', 'web'],
      ['shop.example.org', 'file:shop.example.org shop'],
      ['static.example.net', 'file:static.example.net,x.example.net'],
    ]);
    expect(plan.problems.map((p) => [p.service, p.code])).toEqual([
      ['env:static.example.net', 'CONFIG_INVALID'],
      ['env:www.example.com,example.com', 'CONFIG_INVALID'],
    ]);
    expect(plan.problems[1]!.message).toMatch(/"www\.example\.com" already in certificate "multi-hosts\.example\.com" \(asked for by web\)/);
  });

  it('returns the same plan for the same entries, and drops a source\'s certificates when its entries go', () => {
    const planner = new IncrementalPlanner();
    const first = planner.updateDomains('file', [['a.example.com']]);
    expect(planner.updateDomains('file', [['a.example.com']])).toBe(first);
    expect(first.certs.map((c) => c.id)).toEqual(['a.example.com']);
    expect(planner.updateDomains('file', []).certs).toEqual([]);
  });
});
