import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config.js';
import { parsePolicyText } from '../../src/policy/file.js';
import { globMatches, matchingRule } from '../../src/policy/match.js';
import { basePolicy, resolvePolicy } from '../../src/policy/resolve.js';

const FILE = `
defaults:
  key_type: ecdsa-p384
  challenge: dns-persist-01
  renew_before: 20d
  reuse_key: true
  dns: r53
  targets: [edge]
dns:
  r53: { provider: route53 }
  bind: { provider: rfc2136, server: ns1.example.org }
targets:
  edge: /run/haproxy.sock
  acm: acm://eu-west-1
certificates:
  - label: legacy
    zone: legacy.example.org
    dns: bind
    key_type: rsa2048
  - pattern: '*.shop.example.com'
    zone: example.com
    challenge: http-01
    targets: [acm]
    names: [shop.example.com, a.shop.example.com]
  - name: api.example.com
    on_removal: { delete_after: 12h }
  - pattern: '**.example.com'
    profile: shortlived
`;

const load = () => parsePolicyText(FILE, 'w.yaml', async () => '');
const config = (raw: Record<string, unknown> = {}, env: Record<string, string> = {}) => buildConfig('certs', raw, { env, cwd: '/srv' });
const cert = (zone: string, ...names: string[]) => ({ id: names[0]!, zone, names });

describe('globMatches', () => {
  it('* stays within a label, ** crosses labels', () => {
    expect(globMatches('*.shop.example.com', 'a.shop.example.com')).toBe(true);
    expect(globMatches('*.shop.example.com', 'a.b.shop.example.com')).toBe(false);
    expect(globMatches('*.shop.example.com', 'shop.example.com')).toBe(false);
    expect(globMatches('api-*.example.com', 'api-eu.example.com')).toBe(true);
    expect(globMatches('api-*.example.com', 'api-.example.com')).toBe(false);
    expect(globMatches('api-*.example.com', 'api-eu.x.example.com')).toBe(false);
    expect(globMatches('**.example.com', 'a.b.example.com')).toBe(true);
    expect(globMatches('**.example.com', 'example.com')).toBe(false);
    expect(globMatches('*.example.com', '*.example.com')).toBe(true);
    expect(globMatches('a.example.com', 'aXexample.com')).toBe(false);
  });
});

describe('matchingRule', () => {
  it('needs every matcher of a rule, and one name of the certificate', async () => {
    const file = await load();
    expect(matchingRule(cert('legacy.example.org', 'www.legacy.example.org'), file)?.label).toBe('legacy');
    // pattern and zone both match
    expect(matchingRule(cert('example.com', 'a.shop.example.com'), file)?.label).toBe('certificates[1]');
    // the pattern matches but the zone is shop.example.com, not example.com: next rules
    expect(matchingRule(cert('shop.example.com', 'a.shop.example.com'), file)?.label).toBe('certificates[3]');
    // one name of a multi-host certificate is enough
    expect(matchingRule({ id: 'multi-hosts.example.com', zone: 'example.com', names: ['api.example.com', 'www.example.com'] }, file)?.label).toBe('certificates[2]');
    expect(matchingRule(cert('example.net', 'www.example.net'), file)).toBeUndefined();
    expect(matchingRule(cert('example.net', 'www.example.net'), undefined)).toBeUndefined();
  });
});

describe('basePolicy', () => {
  it('takes the file defaults where the command line and environment set nothing', async () => {
    const base = basePolicy(config(), await load());
    expect(base).toEqual({
      dns: 'r53', challenge: 'dns-persist-01', keyType: 'ecdsa-p384', reuseKey: true, renewBefore: { days: 20 },
      targets: ['edge'], extraNames: [], onRemoval: { kind: 'keep' },
    });
  });

  it('lets flags and environment variables win over the file defaults', async () => {
    const file = await load();
    const base = basePolicy(config({ keyType: 'rsa4096', dnsProvider: 'route53' }, { WHISPER_RENEW_BEFORE: '10%', WHISPER_CHALLENGE: 'dns-01' }), file);
    expect(base).toMatchObject({ keyType: 'rsa4096', renewBefore: { percent: 10 }, challenge: 'dns-01', reuseKey: true });
    expect(base.dns).toBeUndefined();
  });

  it('is the command line alone without a file', () => {
    expect(basePolicy(config(), undefined)).toEqual({ challenge: 'dns-01', keyType: 'ecdsa-p256', reuseKey: false, extraNames: [], onRemoval: { kind: 'keep' } });
  });
});

describe('resolvePolicy', () => {
  it('applies the first matching rule over the defaults and the command line', async () => {
    const file = await load();
    const base = basePolicy(config({ keyType: 'rsa4096' }), file);
    const legacy = resolvePolicy(cert('legacy.example.org', 'www.legacy.example.org'), file, base);
    expect(legacy).toMatchObject({ dns: 'bind', keyType: 'rsa2048', challenge: 'dns-persist-01', rule: 'legacy' });
    const shop = resolvePolicy(cert('example.com', 'a.shop.example.com'), file, base);
    expect(shop).toMatchObject({ challenge: 'http-01', targets: ['acm'], keyType: 'rsa4096', extraNames: ['shop.example.com'], rule: 'certificates[1]' });
    const api = resolvePolicy(cert('example.com', 'api.example.com'), file, base);
    expect(api.onRemoval).toEqual({ kind: 'delete', afterMs: 12 * 3_600_000 });
    expect(resolvePolicy(cert('example.net', 'www.example.net'), file, base)).toBe(base);
  });
});
