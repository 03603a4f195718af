import { describe, it, expect } from 'vitest';
import { planCertificates } from '../../../src/plan/planner.js';
import type { ServiceTags } from '../../../src/plan/types.js';

const svc = (name: string, ...tags: string[]): ServiceTags => ({ name, tags });
const long = Array.from({ length: 5 }, () => 'l'.repeat(60)).join('.');

describe('planCertificates: hostile tags (the cases of the hostile integration test)', () => {
  const hostile: Array<[string, string, string]> = [
    ['dotdot', 'vhost=../../../etc/cron.d/x', 'HOSTNAME_INVALID'],
    ['slash', 'vhost=a/b', 'HOSTNAME_INVALID'],
    ['backslash', 'vhost=a\\b', 'HOSTNAME_INVALID'],
    ['nul', 'vhost=a\u0000b', 'HOSTNAME_INVALID'],
    ['escape', 'vhost=a\u001b[31mb', 'HOSTNAME_INVALID'],
    ['label64', `vhost=${'a'.repeat(64)}`, 'HOSTNAME_INVALID'],
    ['name254', `vhost=${long}`, 'HOSTNAME_INVALID'],
    ['star', 'vhost=a*b', 'HOSTNAME_INVALID'],
    ['starmid', 'vhost=www.*', 'HOSTNAME_INVALID'],
    ['empty', 'vhost=', 'HOSTNAME_INVALID'],
  ];

  it.each(hostile)('%s: one problem naming the service, nothing planned, the good vhost kept', (label, tag, code) => {
    const plan = planCertificates([svc(`evil-${label}`, 'dns=example.com', tag, 'vhost=ok', 'https=443')], { allowDomains: ['example.com'] });
    expect(plan.certs.map((c) => [c.id, c.names])).toEqual([['ok.example.com', ['ok.example.com']]]);
    expect(plan.problems).toHaveLength(1);
    expect(plan.problems[0]).toMatchObject({ service: `evil-${label}`, code });
    expect(plan.problems[0]?.message).toContain(`service "evil-${label}"`);
    // Logged as it is: no raw control character reaches the message.
    expect([...(plan.problems[0]?.message ?? '')].filter((ch) => ch.charCodeAt(0) < 0x20)).toEqual([]);
  });

  it('names outside the allow-list, even ending in an allowed zone as a label, are DOMAIN_NOT_ALLOWED', () => {
    const plan = planCertificates(
      [svc('out', 'dns=outside.test', 'ssl=on'), svc('sub', 'dns=example.com.evil.test', 'ssl=on'), svc('empty', 'dns=', 'ssl=on')],
      { allowDomains: ['example.com'] },
    );
    expect(plan.certs).toEqual([]);
    expect(plan.problems.map((p) => [p.service, p.code])).toEqual([
      ['empty', 'HOSTNAME_INVALID'],
      ['out', 'DOMAIN_NOT_ALLOWED'],
      ['sub', 'DOMAIN_NOT_ALLOWED'],
    ]);
  });

  it('uppercase, a trailing dot and IDN are normalised', () => {
    const plan = planCertificates([svc('web', 'dns=EXAMPLE.COM.', 'vhost=WWW', 'vhost=bücher', 'https=443'), svc('Api', 'dns=Example.com.', 'ssl=on')]);
    expect(plan.certs.map((c) => [c.id, c.names])).toEqual([
      ['api.example.com', ['api.example.com']],
      ['multi-hosts.example.com', ['www.example.com', 'xn--bcher-kva.example.com']],
    ]);
    expect(plan.problems).toEqual([]);
  });

  it('150 vhosts of one zone: 100 in multi-hosts, 50 in multi-hosts-2', () => {
    const vhosts = Array.from({ length: 150 }, (_, i) => `vhost=v${String(i).padStart(3, '0')}`);
    const plan = planCertificates([svc('many', 'dns=example.com', 'https=443', ...vhosts)]);
    expect(plan.certs.map((c) => [c.id, c.names.length])).toEqual([
      ['multi-hosts-2.example.com', 50],
      ['multi-hosts.example.com', 100],
    ]);
    expect(plan.problems).toEqual([expect.objectContaining({ service: 'many', code: 'TOO_MANY_NAMES' })]);
  });
});
