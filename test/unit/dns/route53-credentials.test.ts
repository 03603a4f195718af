import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chooseProfile,
  defaultConfigFile,
  defaultCredentialsFile,
  iniSections,
  profileNames,
  readProfileNames,
} from '../../../src/dns/route53-credentials.js';
import { isWhisperError } from '../../../src/errors.js';

describe('iniSections (the AWS SDK parser)', () => {
  it('lists the sections holding a setting, ignoring comments', () => {
    const text = '[default]\naws_access_key_id = A\n# [commented]\nx=y\n[my.domain.tld] ; note\nx=y\n[Example.COM]\r\nk = v\r\n';
    expect(iniSections(text)).toEqual(['default', 'my.domain.tld', 'Example.COM']);
  });

  it('keys typed sections as <type>.<name>, drops unknown types, keeps inner spaces', () => {
    const text = [
      '[profile a.example]', 'k=v',
      "[profile 'b.example']", 'k=v',
      '[sso-session corp]', 'k=v',
      '[weird c.example]', 'k=v',
      '[ d.example ]', 'k=v',
    ].join('\n');
    expect(iniSections(text)).toEqual(['profile.a.example', 'profile.b.example', 'sso-session.corp', ' d.example ']);
  });

  it('does not know an empty section, nor one with only empty values', () => {
    expect(iniSections('[empty.example]\n\n[blank.example]\nk =\n[full.example]\nk = v\n')).toEqual(['full.example']);
  });

  it('counts a nested setting (sub-section) as a setting', () => {
    expect(iniSections('[profile x.example]\ns3 =\n  max_concurrent_requests = 10\n')).toEqual(['profile.x.example']);
  });
});

describe('profileNames', () => {
  const text = '[default]\nk=v\n[profile a.example]\nk=v\n[b.example]\nk=v\n[sso-session corp]\nk=v\n[services s]\nk=v\n';

  it('credentials file: every section is a profile', () => {
    expect(profileNames('[default]\nk=v\n[b.example]\nk=v\n', 'credentials')).toEqual(['default', 'b.example']);
  });

  it('config file: `[profile <name>]` and `[default]` only, by the bare name', () => {
    expect(profileNames(text, 'config')).toEqual(['default', 'a.example']);
    expect(profileNames('[profile default]\nregion=x\n', 'config')).toEqual(['default']);
  });
});

describe('chooseProfile', () => {
  const profiles = new Map([
    ['example.com', 'example.com'],
    ['b.example.com', 'b.example.com'],
    ['other.org', 'Other.ORG'],
  ]);

  it('prefers the longest parent domain that has a profile', () => {
    expect(chooseProfile('_acme-challenge.a.b.example.com', profiles)).toBe('b.example.com');
    expect(chooseProfile('_acme-challenge.c.example.com', profiles)).toBe('example.com');
  });

  it('counts the host itself, so an apex certificate finds its zone profile', () => {
    expect(chooseProfile('_acme-challenge.example.com', profiles)).toBe('example.com');
  });

  it('matches case-insensitively and returns the name as written in the file', () => {
    expect(chooseProfile('_acme-challenge.WWW.other.org', profiles)).toBe('Other.ORG');
  });

  it('returns undefined (the default chain) when no profile matches', () => {
    expect(chooseProfile('_acme-challenge.www.example.net', profiles)).toBeUndefined();
  });
});

describe('readProfileNames', () => {
  async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-cred-'));
    try {
      await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('reads the profiles of a credentials file and returns none for missing files', () =>
    withDir(async (dir) => {
      const credentialsFile = join(dir, 'credentials');
      await writeFile(credentialsFile, '[default]\na=b\n[my.domain.tld]\nc=d\n');
      expect([...(await readProfileNames({ credentialsFile })).keys()]).toEqual(['default', 'my.domain.tld']);
      const none = await readProfileNames({ credentialsFile: join(dir, 'missing'), configFile: join(dir, 'missing2') });
      expect(none.size).toBe(0);
    }));

  it('adds `[profile <zone>]` of the config file, not its bare `[<zone>]`', () =>
    withDir(async (dir) => {
      const configFile = join(dir, 'config');
      await writeFile(configFile, '[profile My.Zone.tld]\nregion=eu-west-1\n[other.tld]\nk=v\n');
      const profiles = await readProfileNames({ credentialsFile: join(dir, 'missing'), configFile });
      expect([...profiles]).toEqual([['my.zone.tld', 'My.Zone.tld']]);
      expect(chooseProfile('_acme-challenge.www.my.zone.tld', profiles)).toBe('My.Zone.tld');
      expect(chooseProfile('_acme-challenge.www.other.tld', profiles)).toBeUndefined();
    }));

  it("prefers the credentials file's spelling when both files name the zone", () =>
    withDir(async (dir) => {
      const credentialsFile = join(dir, 'credentials');
      const configFile = join(dir, 'config');
      await writeFile(credentialsFile, '[Zone.tld]\nk=v\n');
      await writeFile(configFile, '[profile zone.tld]\nk=v\n[profile only.tld]\nk=v\n');
      const profiles = await readProfileNames({ credentialsFile, configFile });
      expect([...profiles]).toEqual([
        ['zone.tld', 'Zone.tld'],
        ['only.tld', 'only.tld'],
      ]);
    }));

  it('reports an unreadable file as a configuration error naming it', () =>
    withDir(async (dir) => {
      const err = await readProfileNames({ credentialsFile: join(dir, 'missing'), configFile: dir }).catch((e: unknown) => e);
      expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain(`AWS config file ${dir}`);
    }));
});

describe('default shared files', () => {
  it('honours AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, and expands ~/ as the SDK does', () => {
    expect(defaultCredentialsFile({ AWS_SHARED_CREDENTIALS_FILE: 'creds.ini' })).toBe('creds.ini');
    expect(defaultCredentialsFile({}, '/home/u')).toBe(join('/home/u', '.aws', 'credentials'));
    expect(defaultCredentialsFile({ AWS_SHARED_CREDENTIALS_FILE: '~/aws/creds' }, '/home/u')).toBe(join('/home/u', 'aws', 'creds'));
    expect(defaultConfigFile({ AWS_CONFIG_FILE: 'conf.ini' })).toBe('conf.ini');
    expect(defaultConfigFile({ AWS_CONFIG_FILE: '' }, '/home/u')).toBe(join('/home/u', '.aws', 'config'));
    expect(defaultConfigFile({ AWS_CONFIG_FILE: '~/c' }, '/home/u')).toBe(join('/home/u', 'c'));
  });
});

describe('agreement with the AWS SDK', () => {
  // The names readProfileNames returns are exactly those fromIni({ profile }) resolves, on files with the edge cases.
  it('finds a profile exactly when fromIni resolves it', async () => {
    const { fromIni } = await import('@aws-sdk/credential-providers');
    const dir = await mkdtemp(join(tmpdir(), 'whisper-cred-sdk-'));
    try {
      const keys = 'aws_access_key_id = AKID\naws_secret_access_key = s\n';
      const credentialsFile = join(dir, 'credentials');
      const configFile = join(dir, 'config');
      await writeFile(credentialsFile, `[cred.tld]\n${keys}[empty.tld]\n[ spaced.tld ]\n${keys}[profile pc.tld]\n${keys}`);
      await writeFile(
        configFile,
        `[profile conf.tld] ; comment\n${keys}[bare.tld]\n${keys}[profile "quoted.tld"]\n${keys}[sso-session s.tld]\n${keys}`,
      );
      const found = await readProfileNames({ credentialsFile, configFile });
      const candidates = ['cred.tld', 'empty.tld', 'spaced.tld', 'pc.tld', 'conf.tld', 'bare.tld', 'quoted.tld', 's.tld'];
      const resolves = async (profile: string) =>
        fromIni({ profile, filepath: credentialsFile, configFilepath: configFile, ignoreCache: true })().then(
          () => true,
          () => false,
        );
      const sdk = [];
      for (const name of candidates) if (await resolves(name)) sdk.push(name);
      expect(sdk).toEqual(['cred.tld', 'conf.tld', 'quoted.tld']);
      expect(candidates.filter((name) => found.has(name))).toEqual(sdk);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
