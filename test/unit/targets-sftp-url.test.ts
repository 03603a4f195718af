import { describe, expect, it } from 'vitest';
import { isWhisperError } from '../../src/errors.js';
import { resolveSftpOptions } from '../../src/targets/sftp-config.js';
import { parseSftpUrl, parseSftpUrlString } from '../../src/targets/sftp-url.js';
import { createSftpTarget } from '../../src/targets/sftp.js';

const files = { keyFile: '/k', knownHostsFile: '/kh' };

function configError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (isWhisperError(err, 'TARGET_CONFIG')) return err.message;
    throw err;
  }
  throw new Error('no error');
}

describe('sftp:// URLs', () => {
  it('parses user, host, port and folder, and names the target with the port', () => {
    expect(parseSftpUrlString('sftp://deploy@files.example.com/etc/haproxy/certs/')).toEqual({
      user: 'deploy',
      host: 'files.example.com',
      port: 22,
      dir: '/etc/haproxy/certs',
      name: 'sftp://deploy@files.example.com:22/etc/haproxy/certs',
    });
    expect(parseSftpUrlString('sftp://deploy@10.0.0.5:2222/certs')).toMatchObject({ host: '10.0.0.5', port: 2222, dir: '/certs' });
    expect(parseSftpUrlString('sftp://deploy@[::1]:2222/certs')).toMatchObject({
      host: '::1',
      port: 2222,
      name: 'sftp://deploy@[::1]:2222/certs',
    });
    expect(parseSftpUrlString('sftp://deploy@h/')).toMatchObject({ dir: '/' });
    // URL resolves dot segments itself: the name shows the folder that is used.
    expect(parseSftpUrlString('sftp://u@h/a/%2e%2e/b')).toMatchObject({ dir: '/b', name: 'sftp://u@h:22/b' });
  });

  it('decodes the user and the path, and reads /~/ as the login folder', () => {
    expect(parseSftpUrlString('sftp://ops%40corp@h/my%20certs')).toMatchObject({ user: 'ops@corp', dir: '/my certs' });
    expect(parseSftpUrlString('sftp://u@h/~/certs/live/')).toMatchObject({ dir: 'certs/live' });
    expect(parseSftpUrlString('sftp://u@h/~')).toMatchObject({ dir: '.' });
  });

  it('refuses bad URLs with a message naming them', () => {
    expect(configError(() => parseSftpUrlString('not a url'))).toMatch(/not a URL/);
    expect(configError(() => parseSftpUrlString('ssh://u@h/p'))).toMatch(/scheme is ssh, not sftp/);
    expect(configError(() => parseSftpUrlString('sftp://h/p'))).toMatch(/user is missing/);
    expect(configError(() => parseSftpUrlString('sftp://u@h'))).toMatch(/remote folder is missing/);
    expect(configError(() => parseSftpUrlString('sftp://u@h/p?x=1'))).toMatch(/query or fragment/);
    expect(configError(() => parseSftpUrlString('sftp://u@h/p#frag'))).toMatch(/query or fragment/);
    expect(configError(() => parseSftpUrlString('sftp://u@h/a%2F..%2Fb'))).toMatch(/"\.\." segment/);
    expect(configError(() => parseSftpUrlString('sftp://u@h/a%00b'))).toMatch(/NUL/);
    expect(configError(() => parseSftpUrlString('sftp://u@h/%E0%A4%A'))).toMatch(/percent-encoding/);
    expect(configError(() => parseSftpUrlString('sftp://u@h:99999/p'))).toMatch(/not a URL/);
  });

  it('refuses a password and never repeats it', () => {
    const msg = configError(() => parseSftpUrl(new URL('sftp://u:hunter2@h/p')));
    expect(msg).toMatch(/password in the URL is not supported/);
    expect(msg).not.toContain('hunter2');
    expect(configError(() => parseSftpUrlString('sftp://u:hunter2@h:99999/p'))).not.toContain('hunter2');
  });
});

describe('SFTP target options', () => {
  it('defaults to mode 0600 and a 30 s deadline; folders it creates follow the mode', () => {
    const r = resolveSftpOptions(new URL('sftp://u@h/p'), files);
    expect([r.mode, r.dirMode, r.timeoutMs, r.uid, r.gid]).toEqual([0o600, 0o700, 30_000, undefined, undefined]);
    expect(resolveSftpOptions(new URL('sftp://u@h/p'), { ...files, mode: 0o640 }).dirMode).toBe(0o750);
    expect(resolveSftpOptions(new URL('sftp://u@h/p'), { ...files, mode: 0o644 }).dirMode).toBe(0o755);
  });

  it('refuses modes and ids out of range', () => {
    const url = new URL('sftp://u@h/p');
    expect(configError(() => resolveSftpOptions(url, { ...files, mode: 0o1777 }))).toMatch(/--sftp-mode/);
    expect(configError(() => resolveSftpOptions(url, { ...files, uid: -1 }))).toMatch(/--sftp-uid/);
    expect(configError(() => resolveSftpOptions(url, { ...files, gid: 1.5 }))).toMatch(/--sftp-gid/);
    expect(configError(() => resolveSftpOptions(url, { ...files, keyFile: '' }))).toMatch(/--ssh-key/);
    expect(configError(() => resolveSftpOptions(url, { ...files, timeoutMs: 0 }))).toMatch(/timeout/);
  });

  it('builds a target without touching files or the network', () => {
    const t = createSftpTarget(new URL('sftp://u@h:2200/srv/certs'), { keyFile: '/missing', knownHostsFile: '/missing' });
    expect(t.name).toBe('sftp://u@h:2200/srv/certs');
    expect(t.perInstance).toBeUndefined();
    expect(typeof t.remove).toBe('function');
  });
});
