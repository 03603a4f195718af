import { describe, it, expect } from 'vitest';
import { orderOptions, withPolicyNames } from '../../src/policy/apply.js';
import { acceptsTarget } from '../../src/policy/targets.js';
import { certOfFile, checkPolicyFile } from '../../src/policy/run.js';
import type { CertPolicy } from '../../src/policy/types.js';
import type { PolicyFile } from '../../src/policy/file-types.js';
import type { DnsProvider } from '../../src/dns/provider.js';
import type { WantedCert } from '../../src/plan/types.js';

const base: CertPolicy = { challenge: 'dns-01', keyType: 'ecdsa-p256', reuseKey: false, extraNames: [], onRemoval: { kind: 'keep' } };
const cert = (id: string, names: string[]): WantedCert => ({ id, kind: 'single', zone: 'example.com', names, services: ['web'] });
const fakeDns = (name: string): DnsProvider => ({ name, present: async () => undefined, cleanUp: async () => undefined });

describe('withPolicyNames', () => {
  it("adds a rule's names after the subject, sorted, and keeps the plan when nothing is added", () => {
    const plan = { certs: [cert('www.example.com', ['www.example.com']), cert('api.example.com', ['api.example.com'])], problems: [] };
    const next = withPolicyNames(plan, (c) => (c.id === 'www.example.com' ? { ...base, extraNames: ['b.example.com', 'a.example.com'] } : base));
    expect(next.certs[0]!.names).toEqual(['www.example.com', 'a.example.com', 'b.example.com']);
    expect(next.certs[1]).toBe(plan.certs[1]);
    expect(withPolicyNames(plan, () => base)).toBe(plan);
  });
});

describe('orderOptions', () => {
  it("gives the order the policy's challenge, key type, back end and pinned key", () => {
    const bind = fakeDns('bind');
    const o = orderOptions({ policy: { ...base, dns: 'bind', challenge: 'dns-persist-01', keyType: 'rsa2048', reuseKey: true }, dnsBackend: () => bind, key: 'PEM' });
    expect(o).toEqual({ challenge: 'dns-persist-01', keyType: 'rsa2048', dns: bind, key: 'PEM' });
  });

  it('pins no key unless the policy reuses keys, and refuses a back end without a file', () => {
    expect(orderOptions({ policy: base, key: 'PEM' })).toEqual({ challenge: 'dns-01', keyType: 'ecdsa-p256' });
    expect(() => orderOptions({ policy: { ...base, dns: 'bind' } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('acceptsTarget', () => {
  const names = new Map([['edge', ['haproxy:/run/haproxy.sock']], ['aws', ['acm://eu-west-1', 'elbv2:///arn:x']]]);
  it('takes every target without a list, only the listed file targets with one', () => {
    expect(acceptsTarget(undefined, names, 'sftp://u@h:22/p')).toBe(true);
    expect(acceptsTarget(['aws'], names, 'acm://eu-west-1')).toBe(true);
    expect(acceptsTarget(['aws'], names, 'haproxy:/run/haproxy.sock')).toBe(false);
    expect(acceptsTarget([], names, 'acm://eu-west-1')).toBe(false);
  });
});

describe('certOfFile and checkPolicyFile', () => {
  it("finds a folder file's zone from its id", () => {
    expect(certOfFile({ id: 'multi-hosts-2.example.com', names: ['a.example.com'] }).zone).toBe('example.com');
    expect(certOfFile({ id: 'www.shop.example.com', names: ['www.shop.example.com'] }).zone).toBe('shop.example.com');
  });

  it('refuses a file asking for http-01 when nothing answers it, naming the rule', () => {
    const file: PolicyFile = {
      path: '/etc/whisper.yaml', defaults: {}, dns: {}, targets: {}, domains: [],
      rules: [{ label: 'web', line: 7, zones: ['example.com'], set: { challenge: 'http-01' } }],
    } as PolicyFile;
    expect(() => checkPolicyFile(file, {})).toThrow(/whisper\.yaml: web \(line 7\): challenge http-01 needs --http01-listen or --http01-webroot/);
    expect(() => checkPolicyFile(file, { http01Webroot: '/srv/www' })).not.toThrow();
  });
});
