import { describe, expect, it } from 'vitest';
import { checkConfigCommand } from '../../src/check-config-command.js';
import type { ConsulApi } from '../../src/consul/api.js';

const FILE = `
defaults:
  key_type: ecdsa-p384
dns:
  bind: { provider: rfc2136, server: ns1.example.org }
targets:
  edge: /run/haproxy.sock
certificates:
  - label: org-rsa
    zone: example.org
    dns: bind
    key_type: rsa2048
    reuse_key: true
    targets: [edge]
    on_removal: { delete_after: 30d }
domains:
  - example.net,www.example.net
`;

const files: Record<string, string> = { '/etc/whisper/w.yaml': FILE, '/etc/whisper/bad.yaml': 'certificates:\n  - zone: example.org\n    dns: nope\n' };
const readFile = async (p: string) => {
  const text = files[p];
  if (text === undefined) throw new Error(`ENOENT: ${p}`);
  return text;
};
const consul = {
  catalogServices: async () => ({ index: 1, services: { web: ['dns=example.com', 'vhost=www', 'vhost=api', 'https=443'], shop: ['dns=example.org', 'ssl=1'], other: ['x'] } }),
} as unknown as ConsulApi;

async function run(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await checkConfigCommand(['check-config', ...args], { stdout: (t) => (out += t), stderr: (t) => (err += t), env, cwd: '/etc/whisper', consul, readFile });
  return { code, out, err };
}

describe('whisper-ts check-config', () => {
  it('prints each wanted certificate with its policy', async () => {
    const { code, out, err } = await run(['w.yaml'], { DOMAINS: 'static.example.com' });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('w.yaml: valid (1 rule(s), 1 DNS back end(s), 1 target(s), 1 static domain entry)');
    expect(out).toContain('4 certificate(s) wanted');
    expect(out).toMatch(/ {2}shop\.example\.org\.pem\n {4}zone {8}example\.org\n {4}names {7}shop\.example\.org\n {4}from {8}shop\n {4}dns {9}bind \(rfc2136\)\n {4}challenge {3}dns-01\n {4}key {9}rsa2048, reused across renewals\n/);
    expect(out).toMatch(/targets {5}edge\n {4}on removal {2}delete after 30d\n {4}rule {8}org-rsa/);
    expect(out).toMatch(/multi-hosts\.example\.com\.pem\n[^]*?dns {9}route53 \(--dns-provider\)\n[^]*?key {9}ecdsa-p384, new at each renewal[^]*?rule {8}\(defaults\)/);
    expect(out).toMatch(/example\.net\.pem\n {4}zone {8}example\.net\n {4}names {7}example\.net, www\.example\.net\n {4}from {8}file:example\.net,www\.example\.net/);
    expect(out).toMatch(/static\.example\.com\.pem\n[^]*?from {8}env:static\.example\.com/);
  });

  it('lets an explicit --key-type win over the file default, never over a rule', async () => {
    const { out } = await run(['w.yaml', '--key-type', 'rsa4096', '--json']);
    const report = JSON.parse(out) as { rows: { id: string; policy: { keyType: string; rule?: string } }[] };
    expect(report.rows.map((r) => [r.id, r.policy.keyType, r.policy.rule ?? null])).toEqual([
      ['example.net', 'rsa4096', null],
      ['multi-hosts.example.com', 'rsa4096', null],
      ['shop.example.org', 'rsa2048', 'org-rsa'],
    ]);
  });

  it('shows only the static certificates with --offline', async () => {
    const { code, out } = await run(['w.yaml', '--offline']);
    expect(code).toBe(0);
    expect(out).toContain('1 static certificate(s) (--offline');
  });

  it('exits 2 naming the file, line and key of an invalid file', async () => {
    const { code, out, err } = await run(['bad.yaml']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/^whisper-ts check-config: \S*bad\.yaml:3: certificates\[0\]\.dns: rule certificates\[0\] names DNS back end "nope", which dns: does not define\n$/);
    expect((await run(['missing.yaml'])).code).toBe(2);
    expect((await run([])).code).toBe(2);
  });

  it('exits 1 when Consul cannot be read', async () => {
    let err = '';
    const down = { catalogServices: async () => { throw new Error('connection refused'); } } as unknown as ConsulApi;
    const code = await checkConfigCommand(['check-config', 'w.yaml'], { stdout: () => {}, stderr: (t) => (err += t), env: {}, cwd: '/etc/whisper', consul: down, readFile });
    expect(code).toBe(1);
    expect(err).toMatch(/connection refused/);
  });
});
