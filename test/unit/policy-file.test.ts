import { describe, expect, it } from 'vitest';
import { parsePolicyText, loadPolicyFile } from '../../src/policy/file.js';
import { isWhisperError } from '../../src/errors.js';

const secrets: Record<string, string> = { '/etc/whisper/bind.key': 'c2VjcmV0c2VjcmV0\n' };
const read = async (p: string) => {
  const v = secrets[p];
  if (v === undefined) throw new Error(`ENOENT: ${p}`);
  return v;
};

async function problem(text: string): Promise<string> {
  try {
    await parsePolicyText(text, 'whisper.yaml', read);
  } catch (err) {
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

const FULL = `
defaults:
  dns: r53
  key_type: ecdsa-p384
  renew_before: 30d
  on_removal: keep
dns:
  r53: { provider: route53, profile: prod, region: eu-west-1, rps: 5 }
  bind: { provider: rfc2136, server: 10.0.0.53:53, tsig_name: whisper, tsig_secret_file: bind.key }
targets:
  edge: /run/haproxy/admin.sock
  acm: acm://eu-west-1
certificates:
  - label: legacy-rsa
    zone: Legacy.Example.org
    dns: bind
    key_type: rsa2048
    reuse_key: true
    targets: [edge]
  - pattern: ['*.shop.example.com', 'api-*.example.com']
    challenge: http-01
    on_removal: { delete_after: 14d }
    names: [shop.example.com]
  - name: www.example.com
    renew_before: 33%
domains:
  - example.net,www.example.net
  - [static.example.org]
`;

describe('parsePolicyText', () => {
  it('reads a complete file into camelCase, with parsed values', async () => {
    const file = await parsePolicyText(FULL, '/etc/whisper/whisper.yaml', read);
    expect(file.defaults).toEqual({ dns: 'r53', keyType: 'ecdsa-p384', renewBefore: { days: 30 }, onRemoval: { kind: 'keep' } });
    expect(file.dns.r53).toEqual({ provider: 'route53', profile: 'prod', region: 'eu-west-1', requestsPerSecond: 5 });
    expect(file.dns.bind).toEqual({
      provider: 'rfc2136',
      server: '10.0.0.53:53',
      tsig: { name: 'whisper', algorithm: 'hmac-sha256', secret: 'c2VjcmV0c2VjcmV0', secretFile: '/etc/whisper/bind.key' },
    });
    expect(file.targets).toEqual({ edge: { kind: 'haproxy-socket', address: '/run/haproxy/admin.sock' }, acm: { kind: 'url', url: 'acm://eu-west-1' } });
    expect(file.rules.map((r) => r.label)).toEqual(['legacy-rsa', 'certificates[1]', 'certificates[2]']);
    expect(file.rules[0]).toMatchObject({ zones: ['legacy.example.org'], line: 14, set: { dns: 'bind', keyType: 'rsa2048', reuseKey: true, targets: ['edge'] } });
    expect(file.rules[1]).toMatchObject({ patterns: ['*.shop.example.com', 'api-*.example.com'], set: { challenge: 'http-01', onRemoval: { kind: 'delete', afterMs: 14 * 86_400_000 }, extraNames: ['shop.example.com'] } });
    expect(file.rules[2]).toMatchObject({ names: ['www.example.com'], set: { renewBefore: { percent: 33 } } });
    expect(file.domains).toEqual([['example.net', 'www.example.net'], ['static.example.org']]);
    expect(Object.isFrozen(file.rules[0]!.set)).toBe(true);
  });

  it('takes an empty file as no policy', async () => {
    expect(await parsePolicyText('', 'x.yaml', read)).toMatchObject({ defaults: {}, dns: {}, targets: {}, rules: [], domains: [] });
  });

  it('names the file, the line and the key of an unknown key', async () => {
    expect(await problem('defaults:\n  key_type: rsa2048\n  keytype: rsa4096\n')).toBe('whisper.yaml:3: defaults.keytype: unknown key');
    expect(await problem('certificates:\n  - zone: example.com\n    colour: blue\n')).toBe('whisper.yaml:3: certificates[0].colour: unknown key');
  });

  it('names the line of a bad value', async () => {
    expect(await problem('defaults:\n  renew_before: soon\n')).toMatch(/^whisper\.yaml:2: defaults\.renew_before: "soon" is not a number of days/);
    expect(await problem('defaults:\n  key_type: dsa\n')).toMatch(/^whisper\.yaml:2: defaults\.key_type: /);
    expect(await problem('certificates:\n  - zone: example.com\n    on_removal: { delete_after: soon }\n')).toMatch(/^whisper\.yaml:3: certificates\[0\]\.on_removal\.delete_after: "soon" is not a duration/);
    expect(await problem('certificates:\n  - zone: example.com\n    on_removal: never\n')).toMatch(/^whisper\.yaml:3: certificates\[0\]\.on_removal: expected keep or/);
    expect(await problem('certificates:\n  - name: "bad name.example.com"\n')).toMatch(/^whisper\.yaml:2: certificates\[0\]\.name: invalid hostname/);
    expect(await problem('domains:\n  - ok.example.com\n  - "a,b..example.com"\n')).toMatch(/^whisper\.yaml:3: domains\[1\]/);
  });

  it('checks the provider fields of a DNS back end', async () => {
    expect(await problem('dns:\n  bind:\n    provider: rfc2136\n')).toBe('whisper.yaml:2: dns.bind.server: missing: this key is required here');
    expect(await problem('dns:\n  x:\n    provider: powerdns\n')).toMatch(/^whisper\.yaml:3: dns\.x\.provider: /);
    expect(await problem('dns:\n  bind: { provider: rfc2136, server: ns1, tsig_secret: abc }\n')).toBe('whisper.yaml:2: dns.bind.tsig_secret: unknown key');
    expect(await problem('dns:\n  bind: { provider: rfc2136, server: ns1, tsig_name: k, tsig_secret_file: /nope }\n')).toMatch(/^whisper\.yaml:2: dns\.bind\.tsig_secret_file: ENOENT/);
  });

  it('refuses a rule that names a back end or a target that does not exist, naming the rule', async () => {
    expect(await problem('certificates:\n  - label: shop\n    zone: example.com\n    dns: bind\n')).toBe(
      'whisper.yaml:4: certificates[0].dns: rule shop names DNS back end "bind", which dns: does not define',
    );
    expect(await problem('targets: { a: acm://eu-west-1 }\ncertificates:\n  - zone: example.com\n    targets: [a, b]\n')).toMatch(
      /^whisper\.yaml:4: certificates\[0\]\.targets: rule certificates\[0\] names target "b"/,
    );
  });

  it('refuses a rule without a matcher, and a bad target', async () => {
    expect(await problem('certificates:\n  - key_type: rsa2048\n')).toMatch(/^whisper\.yaml:2: certificates\[0\]: a rule needs zone, name or pattern/);
    expect(await problem('targets:\n  a: ftp://x\n')).toMatch(/^whisper\.yaml:2: targets\.a: /);
  });

  it('reports YAML syntax errors and duplicate keys at their line', async () => {
    expect(await problem('defaults:\n  key_type: [\n')).toMatch(/^whisper\.yaml:\d+: not valid YAML: /);
    expect(await problem('defaults:\n  key_type: rsa2048\n  key_type: rsa4096\n')).toMatch(/^whisper\.yaml:3: not valid YAML: Map keys must be unique/);
  });

  it('says how many more problems there are', async () => {
    expect(await problem('a: 1\nb: 2\n')).toBe('whisper.yaml:1: a: unknown key (and 1 more problem)');
  });

  it('loadPolicyFile names a file it cannot read', async () => {
    await expect(loadPolicyFile('/missing.yaml', read)).rejects.toThrow(/^\/missing\.yaml: cannot read the config file/);
  });
});

describe('a back end that writes no DNS', () => {
  it('refuses dns-01 on it, also when the challenge comes from the defaults', async () => {
    const dns = 'dns:\n  manual: { provider: none }\n';
    expect(await problem(`${dns}certificates:\n  - zone: example.com\n    dns: manual\n    challenge: dns-01\n`)).toMatch(/^whisper\.yaml:6: certificates\[0\]\.challenge: rule certificates\[0\]: back end "manual" writes no DNS/);
    expect(await problem(`${dns}defaults:\n  challenge: dns-01\ncertificates:\n  - zone: example.com\n    dns: manual\n`)).toMatch(/^whisper\.yaml:7: certificates\[0\]\.dns: /);
    await expect(parsePolicyText(`${dns}defaults:\n  challenge: dns-01\ncertificates:\n  - zone: example.com\n    dns: manual\n    challenge: dns-persist-01\n`, 'w.yaml', read)).resolves.toBeDefined();
  });
});

describe('durations', async () => {
  const { parseDuration, formatDuration } = await import('../../src/policy/duration.js');
  it('reads a whole number and a unit, and shows it back in the largest unit', () => {
    expect(parseDuration('90m')).toBe(90 * 60_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    for (const bad of ['30', '0d', '1.5d', '-1d', '30 days', '99999d']) expect(parseDuration(bad), bad).toBeUndefined();
    expect(formatDuration(14 * 86_400_000)).toBe('2w');
    expect(formatDuration(30 * 86_400_000)).toBe('30d');
    expect(formatDuration(90 * 60_000)).toBe('90m');
  });
});
