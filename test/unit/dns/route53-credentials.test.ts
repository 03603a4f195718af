import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chooseProfile,
  defaultCredentialsFile,
  iniSectionNames,
  readProfileNames,
} from '../../../src/dns/route53-credentials.js';
import { isWhisperError } from '../../../src/errors.js';

describe('iniSectionNames', () => {
  it('lists section names and ignores keys and comments', () => {
    const text = '[default]\naws_access_key_id = A\n# [commented]\n[ my.domain.tld ] ; note\nx=y\n[Example.COM]\r\n';
    expect(iniSectionNames(text)).toEqual(['default', 'my.domain.tld', 'Example.COM']);
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
  it('reads the profiles of a file and returns none for a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-cred-'));
    try {
      const file = join(dir, 'credentials');
      await writeFile(file, '[default]\na=b\n[my.domain.tld]\nc=d\n');
      expect([...(await readProfileNames(file)).keys()]).toEqual(['default', 'my.domain.tld']);
      expect((await readProfileNames(join(dir, 'missing'))).size).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports an unreadable file as a configuration error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-cred-'));
    try {
      const err = await readProfileNames(dir).catch((e: unknown) => e);
      expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('defaultCredentialsFile', () => {
  it('honours AWS_SHARED_CREDENTIALS_FILE', () => {
    expect(defaultCredentialsFile({ AWS_SHARED_CREDENTIALS_FILE: 'creds.ini' })).toBe('creds.ini');
    expect(defaultCredentialsFile({})).toMatch(/\.aws[\\/]credentials$/);
  });
});
