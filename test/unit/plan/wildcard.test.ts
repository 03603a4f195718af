import { describe, it, expect } from 'vitest';
import { IncrementalPlanner } from '../../../src/plan/incremental.js';
import { planCertificates } from '../../../src/plan/planner.js';
import type { ServiceTags } from '../../../src/plan/types.js';

const svc = (name: string, ...tags: string[]): ServiceTags => ({ name, tags });
const allowWildcard = true;

describe('planCertificates: vhost=* without --allow-wildcard (the default)', () => {
  it('skips the whole service with one problem naming the service and the tag', () => {
    const plan = planCertificates([
      svc('greedy', 'dns=example.com', 'vhost=www', 'vhost=*', 'https=443', 'dns=example.org'),
      svc('web', 'dns=example.com', 'vhost=shop', 'https=443'),
    ]);
    expect(plan.certs.map((c) => [c.id, c.names])).toEqual([['shop.example.com', ['shop.example.com']]]);
    expect(plan.problems).toEqual([
      {
        service: 'greedy',
        tag: 'vhost=*',
        code: 'DOMAIN_NOT_ALLOWED',
        message: 'service "greedy", tag "vhost=*": a wildcard certificate needs --allow-wildcard; nothing is ordered for this service',
      },
    ]);
  });

  it('counts a padded tag, and says nothing of a service that asks for no certificate', () => {
    const plan = planCertificates([svc('padded', 'dns=example.com', 'vhost = * ', 'ssl=on'), svc('idle', 'dns=example.com', 'vhost=*')]);
    expect(plan.certs).toEqual([]);
    expect(plan.problems.map((p) => [p.service, p.tag, p.code])).toEqual([['padded', 'vhost=*', 'DOMAIN_NOT_ALLOWED']]);
  });

  it('is the IncrementalPlanner default too, and its option turns it on', () => {
    const catalog = new Map([['greedy', ['dns=example.com', 'vhost=*', 'https=443']]]);
    const off = new IncrementalPlanner().update(catalog, 'all');
    expect(off.certs).toEqual([]);
    expect(off.problems.map((p) => [p.service, p.tag])).toEqual([['greedy', 'vhost=*']]);
    const on = new IncrementalPlanner({ allowWildcard }).update(catalog, 'all');
    // A lone wildcard keeps multi-hosts.<zone>: a `*` in a file name is hostile to shells and globs.
    expect(on.certs.map((c) => [c.id, c.kind, c.names])).toEqual([['multi-hosts.example.com', 'multi', ['*.example.com']]]);
    expect(on.problems).toEqual([]);
  });
});

describe('planCertificates: wildcards with --allow-wildcard', () => {
  it('vhost=* gives *.<zone> in the multi-host certificate, first in sorted order', () => {
    const plan = planCertificates([svc('web', 'dns=example.com', 'vhost=www', 'vhost=*', 'https=443')], { allowWildcard });
    expect(plan.certs[0]?.names).toEqual(['*.example.com', 'www.example.com']);
    expect(plan.problems).toEqual([]);
  });

  it.each(['*.www', 'www.*', 'w*', '**', '*.'])('rejects vhost=%s', (vhost) => {
    const plan = planCertificates([svc('web', 'dns=example.com', `vhost=${vhost}`, 'vhost=ok', 'https=443')], { allowWildcard });
    expect(plan.certs[0]?.names).toEqual(['ok.example.com']);
    expect(plan.problems).toHaveLength(1);
    expect(plan.problems[0]).toMatchObject({ service: 'web', tag: `vhost=${vhost}`, code: 'HOSTNAME_INVALID' });
  });

  it('rejects a wildcard zone and a wildcard service name', () => {
    const plan = planCertificates([svc('web', 'dns=*.example.com', 'ssl=on'), svc('*', 'dns=example.com', 'ssl=on')], { allowWildcard });
    expect(plan.certs).toEqual([]);
    expect(plan.problems.map((p) => [p.service, p.tag, p.code])).toEqual([
      ['*', 'dns=example.com', 'HOSTNAME_INVALID'],
      ['web', 'dns=*.example.com', 'HOSTNAME_INVALID'],
    ]);
  });

  it('still needs the allow-list to cover the zone', () => {
    const plan = planCertificates([svc('web', 'dns=example.com', 'vhost=*', 'vhost=www', 'https=443')], {
      allowWildcard,
      allowDomains: ['www.example.com'],
    });
    expect(plan.certs[0]?.names).toEqual(['www.example.com']);
    expect(plan.problems.map((p) => [p.service, p.tag, p.code])).toEqual([['web', 'vhost=*', 'DOMAIN_NOT_ALLOWED']]);
  });
});
