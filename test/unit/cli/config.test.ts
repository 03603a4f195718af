import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { buildConfig, resolveOptions } from '../../../src/config.js';
import { OPTIONS, LETSENCRYPT } from '../../../src/options.js';
import { isWhisperError } from '../../../src/errors.js';

const noFiles = (f: string): string => {
  throw new Error(`unexpected read of ${f}`);
};
const build = (raw: Record<string, unknown>, env: Record<string, string> = {}, folder: string | undefined = 'certs') =>
  buildConfig(folder, raw, { env, cwd: '/srv', readFile: noFiles });

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('buildConfig', () => {
  it('applies whisper\'s defaults', () => {
    const c = build({});
    expect(c.certDir).toBe('/srv/certs');
    expect(c.consul.address).toBe('consul');
    expect(c.notifyKey).toBe('whisper/updated');
    expect(c.directoryUrl).toBe(LETSENCRYPT.production);
    expect(c.dnsProvider).toBe('route53');
    expect(c.keyType).toBe('ecdsa-p256');
    expect(c.concurrency).toBe(128);
    expect(c.formats).toEqual(['haproxy']);
    expect(c.propagationTimeoutMs).toBe(120_000);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads whisper\'s Docker variables: CONSUL, DEBUG="-d", STAGING="-s"', () => {
    const c = build({}, { CONSUL: '10.0.0.5', DEBUG: '-d', STAGING: '-s' });
    expect(c.consul.address).toBe('10.0.0.5');
    expect(c.debug).toBe(true);
    expect(c.directoryUrl).toBe(LETSENCRYPT.staging);
  });

  it('does not take the debug package\'s DEBUG namespaces for -d', () => {
    expect(build({}, { DEBUG: 'express:*' }).debug).toBe(false);
    expect(build({}, { WHISPER_STAGING: 'false' }).directoryUrl).toBe(LETSENCRYPT.production);
  });

  it('lets a flag win over the environment, and the first variable over the later ones', () => {
    expect(build({ consul: 'flag:8500' }, { CONSUL: 'env' }).consul.address).toBe('flag:8500');
    expect(build({}, { WHISPER_CONSUL: 'a', CONSUL: 'b', CONSUL_HTTP_ADDR: 'c' }).consul.address).toBe('a');
    expect(build({}, { CONSUL_HTTP_ADDR: 'c' }).consul.address).toBe('c');
  });

  it('splits list variables on commas and keeps repeated flags', () => {
    expect(build({}, { WHISPER_ALLOW_DOMAINS: 'a.test, b.test' }).allowDomains).toEqual(['a.test', 'b.test']);
    expect(build({ allowDomain: ['x.test', 'y.test'] }).allowDomains).toEqual(['x.test', 'y.test']);
  });

  it('names the option in every error', () => {
    expect(configError(() => build({ concurrency: '0' }))).toMatch(/^--concurrency: .*1 to 512/);
    expect(configError(() => build({ concurrency: 'many' }))).toMatch(/^--concurrency/);
    expect(configError(() => build({ keyType: 'dsa' }))).toMatch(/^--key-type: must be one of ecdsa-p256/);
    expect(configError(() => build({ dnsProvider: 'cloudflare' }))).toMatch(/^--dns-provider/);
    expect(configError(() => build({ dnsProvider: 'rfc2136' }))).toMatch(/^--rfc2136-server: required/);
    expect(configError(() => build({ dnsProvider: 'exec' }))).toMatch(/^--exec-command: required/);
    expect(configError(() => build({ allowDomain: ['bad/domain'] }))).toMatch(/^--allow-domain/);
    expect(configError(() => build({ dnsResolver: ['not a server'] }))).toMatch(/^--dns-resolver/);
    expect(configError(() => build({ staging: true, directoryUrl: 'https://ca.test/dir' }))).toMatch(/^--staging/);
    expect(configError(() => build({ directoryUrl: 'ftp://x' }))).toMatch(/^--directory-url/);
    expect(configError(() => build({ eabKid: 'kid' }))).toMatch(/^--eab-kid/);
    expect(configError(() => build({ format: ['jks'] }))).toMatch(/^--format/);
    expect(configError(() => build({ notify: '/abs' }))).toMatch(/^--notify/);
    expect(configError(() => build({ consulWait: 'forever' }))).toMatch(/^--consul-wait/);
    expect(configError(() => buildConfig(undefined, {}, { env: {} }))).toMatch(/^<path_to_cert_folder>: missing/);
  });

  it('reads the TSIG secret from a file or the environment, never a flag', () => {
    const files: Record<string, string> = { '/run/secrets/tsig': 'c2VjcmV0\n' };
    const c = buildConfig('certs', { dnsProvider: 'rfc2136', rfc2136Server: '127.0.0.1:5353', rfc2136TsigName: 'k', rfc2136TsigSecretFile: '/run/secrets/tsig' }, {
      env: {},
      readFile: (f) => files[f] ?? noFiles(f),
    });
    expect(c.rfc2136).toEqual({ server: '127.0.0.1:5353', tsig: { name: 'k', algorithm: 'hmac-sha256', secret: 'c2VjcmV0' } });
    const fromEnv = build({ dnsProvider: 'rfc2136', rfc2136Server: 'ns1', rfc2136TsigName: 'k' }, { WHISPER_RFC2136_TSIG_SECRET: 'YWJj' });
    expect(fromEnv.rfc2136?.tsig?.secret).toBe('YWJj');
    expect(configError(() => build({ dnsProvider: 'rfc2136', rfc2136Server: 'ns1', rfc2136TsigName: 'k' }))).toMatch(/needs a secret/);
    expect(configError(() => build({ dnsProvider: 'rfc2136', rfc2136Server: 'ns1', rfc2136TsigSecretFile: '/nope' }))).toMatch(/^--rfc2136-tsig-secret-file: cannot read \/nope/);
  });

  it('reads --notify-interval in seconds (default 5) and --allow-wildcard (default off)', () => {
    expect(build({}).notifyIntervalMs).toBe(5000);
    expect(build({ notifyInterval: '30' }).notifyIntervalMs).toBe(30_000);
    expect(build({}, { WHISPER_NOTIFY_INTERVAL: '1' }).notifyIntervalMs).toBe(1000);
    expect(configError(() => build({ notifyInterval: '0' }))).toMatch(/^--notify-interval: .*1 to 3600/);
    expect(configError(() => build({ notifyInterval: '2.5' }))).toMatch(/^--notify-interval/);
    expect(build({}).allowWildcard).toBe(false);
    expect(build({ allowWildcard: true }).allowWildcard).toBe(true);
    expect(build({}, { WHISPER_ALLOW_WILDCARD: '1' }).allowWildcard).toBe(true);
    expect(build({}, { WHISPER_ALLOW_WILDCARD: 'off' }).allowWildcard).toBe(false);
  });

  it('refuses a CA bundle without a certificate', () => {
    expect(configError(() => buildConfig('certs', { caBundle: '/ca.pem' }, { env: {}, readFile: () => 'garbage' }))).toBe(
      '--ca-bundle: /ca.pem holds no PEM certificate',
    );
  });
});

describe('resolveOptions and .env.example', () => {
  it('documents every environment variable in .env.example', () => {
    const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    for (const spec of OPTIONS) for (const name of spec.env) expect(example).toContain(name);
    expect(example).toContain('ACME_REGISTER_EMAIL');
  });

  it('gives booleans false when neither flag nor variable is set', () => {
    const o = resolveOptions({}, {});
    expect(o.staging).toBe(false);
    expect(o.dryrun).toBe(false);
  });
});

describe('buildConfig: --ha timings', () => {
  it('ties the session to a 3 s check by default, and refuses a lock delay a new leader could outwait', () => {
    expect(build({ ha: true }).ha).toEqual({ lockKey: 'whisper/leader', sessionTtlS: 15, lockDelayS: 5, checkTtlS: 3 });
    expect(build({ ha: true, lockDelay: '4' }).ha?.lockDelayS).toBe(4);
    expect(configError(() => build({ ha: true, lockDelay: '3' }))).toMatch(/^--check-ttl: .*--lock-delay/);
    expect(configError(() => build({ ha: true, checkTtl: '6' }))).toMatch(/^--check-ttl: .*--lock-delay/);
    expect(configError(() => build({ ha: true }, { WHISPER_LOCK_DELAY: '2' }))).toMatch(/^--check-ttl: .*--lock-delay/);
    // Without --ha there is no lock to overlap on.
    expect(build({ lockDelay: '0' }).ha).toBeUndefined();
  });

  it('takes --check-ttl in whole seconds from 2 to 60', () => {
    expect(build({ ha: true, checkTtl: '2', lockDelay: '3' }).ha?.checkTtlS).toBe(2);
    expect(configError(() => build({ ha: true, checkTtl: '1' }))).toMatch(/^--check-ttl: /);
    expect(configError(() => build({ ha: true, checkTtl: '61', lockDelay: '60' }))).toMatch(/^--check-ttl: /);
  });
});
