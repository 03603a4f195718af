import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blobKeyType, fingerprint, parseKnownHosts } from '../../src/targets/known-hosts.js';
import { checkHostKey, knownHostsName, pinnedKeyTypes } from '../../src/targets/known-hosts-match.js';
import { hostKeyAlgorithms } from '../../src/targets/sftp-session.js';

// Public keys made with ssh-keygen for these tests (no private half is kept anywhere).
const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGBUrKFvE36zSOzV7KyddWzHFi/ukYzmCmkAoMrAkT8E';
const EC =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLFkjE7EENu29B29C4/5gjKvC3Rg6xnWoVzNM3KwUVzvCFPN9bEQppud3jv1C9SyzX7X0uYAN4Kuqop3NG6U/2Q=';
const RSA =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDwQ5x2NLnH/lILUodldrLGiIKDe8aX519KgYVZ84LRdtsJP9geAttCcyNHwa+MsdprhXGdT4ZKmRKboMPMpYuEyqHKNtxrr+AaflrM1k2+KQuiS1+rKU4jtIDEIiVutFQwStC3Np3Npc3kSKf37XopiNnBu2jy2zcyRuLoNdtmRQ==';
// `ssh-keygen -H` of "sftp.example.com <ED>" and "[sftp.example.com]:2222 <EC>".
const HASHED = [
  `|1|f8WDTRzLh7UiGX4QJt63hEGseSg=|l8JPLSYGyJxn1T5qhTb6zIbKris= ${ED}`,
  `|1|JI8A2JS9/AQORnBwiMUVWx1YDCM=|sLqhtoer1OQMtBVoNiWuX+XanXs= ${EC}`,
].join('\n');

const blob = (line: string): Buffer => Buffer.from(line.split(' ')[1] ?? '', 'base64');

describe('known_hosts parsing', () => {
  it('reads plain, bracketed, comma-listed lines of the three key types, with comments and blank lines', () => {
    const k = parseKnownHosts(
      `# comment\n\nsftp.example.com,10.0.0.5 ${ED} root@host\n[sftp.example.com]:2222 ${EC}\r\nlegacy.example.com ${RSA}\n`,
    );
    expect(k.skipped).toEqual([]);
    expect(k.entries.map((e) => [e.line, e.type, e.patterns])).toEqual([
      [3, 'ssh-ed25519', ['sftp.example.com', '10.0.0.5']],
      [4, 'ecdsa-sha2-nistp256', ['[sftp.example.com]:2222']],
      [5, 'ssh-rsa', ['legacy.example.com']],
    ]);
    expect(blobKeyType(k.entries[0]!.blob)).toBe('ssh-ed25519');
  });

  it('skips what it cannot use, and says why', () => {
    const k = parseKnownHosts(
      [
        `@cert-authority *.example.com ${ED}`,
        `@weird host ${ED}`,
        'host ssh-dss AAAAB3NzaC1kc3MAAACBAP',
        'host ssh-ed25519 !!!notbase64',
        `host ecdsa-sha2-nistp256 ${ED.split(' ')[1]}`,
        'justahost',
      ].join('\n'),
    );
    expect(k.entries).toEqual([]);
    expect(k.skipped.map((s) => s.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(k.skipped[0]?.reason).toMatch(/cert-authority/);
    expect(k.skipped[2]?.reason).toMatch(/ssh-dss is not supported/);
    expect(k.skipped[4]?.reason).toMatch(/not a ecdsa-sha2-nistp256 key/);
  });

  it('prints fingerprints as ssh-keygen -l does', () => {
    expect(fingerprint(blob(ED))).toBe('SHA256:vPWrGyeN21LjkhKopKH8wCFVw2cIf7YcR7TO289B9F4');
  });
});

describe('host key matching', () => {
  it('names a host as ssh looks it up', () => {
    expect(knownHostsName('SFTP.Example.com', 22)).toBe('sftp.example.com');
    expect(knownHostsName('sftp.example.com', 2222)).toBe('[sftp.example.com]:2222');
    expect(knownHostsName('::1', 2222)).toBe('[::1]:2222');
    expect(knownHostsName('[::1]', 22)).toBe('::1');
  });

  it('accepts the pinned key for plain and bracketed names, and nothing else', () => {
    const k = parseKnownHosts(`sftp.example.com,10.0.0.5 ${ED}\n[sftp.example.com]:2222 ${EC}\n`);
    expect(checkHostKey(k, 'sftp.example.com', 22, blob(ED))).toEqual({ accepted: true, line: 1 });
    expect(checkHostKey(k, '10.0.0.5', 22, blob(ED))).toEqual({ accepted: true, line: 1 });
    expect(checkHostKey(k, 'sftp.example.com', 2222, blob(EC))).toEqual({ accepted: true, line: 2 });
    // Port 2222 is another host for ssh: the port-22 key does not vouch for it.
    expect(checkHostKey(k, 'sftp.example.com', 2222, blob(ED))).toEqual({ accepted: false, reason: 'mismatch', line: 2 });
    expect(checkHostKey(k, 'sftp.example.com', 22, blob(RSA))).toEqual({ accepted: false, reason: 'mismatch', line: 1 });
    expect(checkHostKey(k, 'other.example.com', 22, blob(ED))).toEqual({ accepted: false, reason: 'unknown-host' });
    expect(checkHostKey(k, 'sftp.example.com', 2223, blob(EC))).toEqual({ accepted: false, reason: 'unknown-host' });
  });

  it('matches hashed entries written by ssh-keygen -H', () => {
    const k = parseKnownHosts(HASHED);
    expect(checkHostKey(k, 'sftp.example.com', 22, blob(ED))).toEqual({ accepted: true, line: 1 });
    expect(checkHostKey(k, 'SFTP.example.com', 2222, blob(EC))).toEqual({ accepted: true, line: 2 });
    expect(checkHostKey(k, 'sftp.example.org', 22, blob(ED)).accepted).toBe(false);
    expect(pinnedKeyTypes(k, 'sftp.example.com', 2222)).toEqual(['ecdsa-sha2-nistp256']);
  });

  it('matches hashed entries made here, and ignores malformed hashes', () => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[127.0.0.1]:2022').digest();
    const k = parseKnownHosts(`|1|${salt.toString('base64')}|${hash.toString('base64')} ${ED}\n|2|abc|def ${RSA}\n|1|x ${RSA}\n`);
    expect(checkHostKey(k, '127.0.0.1', 2022, blob(ED)).accepted).toBe(true);
    expect(checkHostKey(k, '127.0.0.1', 2022, blob(RSA))).toEqual({ accepted: false, reason: 'mismatch', line: 1 });
  });

  it('supports wildcards and negations as OpenSSH does', () => {
    const k = parseKnownHosts(`*.example.com,!bad.example.com ${ED}\nhost?.lan ${EC}\n`);
    expect(checkHostKey(k, 'a.example.com', 22, blob(ED)).accepted).toBe(true);
    expect(checkHostKey(k, 'bad.example.com', 22, blob(ED))).toEqual({ accepted: false, reason: 'unknown-host' });
    expect(checkHostKey(k, 'host1.lan', 22, blob(EC)).accepted).toBe(true);
    expect(checkHostKey(k, 'host12.lan', 22, blob(EC)).accepted).toBe(false);
    // A dot in a pattern is a dot, not "any character".
    expect(checkHostKey(parseKnownHosts(`a.b ${ED}`), 'axb', 22, blob(ED)).accepted).toBe(false);
  });

  it('refuses a revoked key, for any host, even when another line pins it', () => {
    const k = parseKnownHosts(`sftp.example.com ${ED}\n@revoked * ${ED}\n`);
    expect(checkHostKey(k, 'sftp.example.com', 22, blob(ED))).toEqual({ accepted: false, reason: 'revoked', line: 2 });
    expect(pinnedKeyTypes(k, 'sftp.example.com', 22)).toEqual(['ssh-ed25519']);
    expect(pinnedKeyTypes(parseKnownHosts(`@revoked sftp.example.com ${ED}`), 'sftp.example.com', 22)).toEqual([]);
  });

  it('offers the server only the host key algorithms pinned for it', () => {
    const k = parseKnownHosts(`h ${RSA}\nh ${ED}\nh ${ED}\n`);
    expect(hostKeyAlgorithms(pinnedKeyTypes(k, 'h', 22))).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  });
});
