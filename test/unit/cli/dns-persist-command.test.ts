import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnsPersistCommand, persistRows } from '../../../src/dns-persist-command.js';
import { LETSENCRYPT } from '../../../src/options.js';

describe('dns-persist records', () => {
  it('one record per name and account, the wildcard value covering its base name', () => {
    const { rows, unknown } = persistRows(
      [['example.com', '*.example.com'], ['WWW.example.com']],
      { [LETSENCRYPT.production]: 'https://acme-v02.api.letsencrypt.org/acme/acct/1', 'https://ca.other/dir': 'https://ca.other/acct/9' },
    );
    expect(rows).toEqual([
      { fqdn: '_validation-persist.example.com', value: 'letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1; policy=wildcard', directoryUrl: LETSENCRYPT.production },
      { fqdn: '_validation-persist.www.example.com', value: 'letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1', directoryUrl: LETSENCRYPT.production },
    ]);
    expect(unknown).toEqual(['https://ca.other/dir']);
  });

  it('takes the issuer domain name given for any CA', () => {
    const { rows } = persistRows([['a.example.com']], { 'https://ca.other/dir': 'https://ca.other/acct/9' }, 'ca.other');
    expect(rows).toEqual([{ fqdn: '_validation-persist.a.example.com', value: 'ca.other; accounturi=https://ca.other/acct/9', directoryUrl: 'https://ca.other/dir' }]);
  });

  it('says so when the folder has no account yet', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-persist-cmd-'));
    try {
      const err: string[] = [];
      expect(await dnsPersistCommand(['dns-persist', dir, '--no-check'], { stdout: () => undefined, stderr: (t) => err.push(t) })).toBe(1);
      expect(err.join('')).toContain('no account in .acme.json');
      await writeFile(join(dir, '.acme.json'), JSON.stringify({ urls: { 'https://ca.other/dir': 'https://ca.other/acct/9' } }));
      const out: string[] = [];
      expect(await dnsPersistCommand(['dns-persist', dir, '--no-check', '--json', '--issuer-domain-name', 'ca.other'], { stdout: (t) => out.push(t), stderr: () => undefined })).toBe(0);
      expect(JSON.parse(out.join(''))).toEqual({ records: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
