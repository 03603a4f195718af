import { describe, it, expect } from 'vitest';
import { buildConfig } from '../../src/config.js';
import { isWhisperError } from '../../src/errors.js';
import { main } from '../../src/cli.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const noFiles = (f: string): string => {
  throw new Error(`ENOENT: ${f}`);
};
const build = (raw: Record<string, unknown>, env: Record<string, string> = {}) => buildConfig('certs', raw, { env, cwd: '/srv', home: '/home/op', readFile: noFiles });

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('target options', () => {
  it('configure no target by default: the folder alone', () => {
    expect(build({}).targets).toBeUndefined();
  });

  it('read repeatable --haproxy-socket and --target, and their environment variables (comma-separated)', () => {
    const c = build({ haproxySocket: ['/run/haproxy/admin.sock', '127.0.0.1:9999'], target: ['acm://eu-west-1', 's3://bucket/certs'] });
    expect(c.targets?.haproxySockets).toEqual(['/run/haproxy/admin.sock', '127.0.0.1:9999']);
    expect(c.targets?.urls.map((u) => u.href)).toEqual(['acm://eu-west-1', 's3://bucket/certs']);
    const e = build({}, { WHISPER_HAPROXY_SOCKETS: '/run/a.sock,/run/b.sock', WHISPER_TARGETS: 'iam://,cloudfront://E2ABC', WHISPER_IAM_DELETE_EXPIRED: '1' });
    expect(e.targets?.haproxySockets).toEqual(['/run/a.sock', '/run/b.sock']);
    expect(e.targets?.urls.map((u) => u.href)).toEqual(['iam://', 'cloudfront://E2ABC']);
    expect(e.targets?.aws.iamDeleteExpired).toBe(true);
  });

  it('pass the AWS options on', () => {
    const c = build({ target: ['elbv2://arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/lb/0123abcd/4567ef'], awsEndpoint: 'http://127.0.0.1:5000', s3KmsKey: 'arn:aws:kms:eu-west-1:1:key/x' });
    expect(c.targets?.aws).toEqual({ endpoint: 'http://127.0.0.1:5000', s3KmsKey: 'arn:aws:kms:eu-west-1:1:key/x', iamDeleteExpired: false });
    expect(c.targets?.urls[0]?.pathname).toBe('/arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/lb/0123abcd/4567ef');
    expect(configError(() => build({ target: ['iam://'], awsEndpoint: 'localhost:5000' }))).toMatch(/^--aws-endpoint: not an http\(s\) URL/);
  });

  it('refuse a --target of an unknown scheme, or that is no URL, naming the value', () => {
    expect(configError(() => build({ target: ['ftp://host/x'] }))).toMatch(/^--target: ftp:\/\/host\/x: unknown scheme ftp:\/\//);
    expect(configError(() => build({ target: ['eu-west-1'] }))).toMatch(/^--target: eu-west-1: not a URL/);
    expect(configError(() => build({ target: ['elb://bad name'] }))).toMatch(/^--target: elb:\/\/bad name: not a valid URL; expected elb:\/\/<name>\[:port\]/);
    expect(configError(() => build({ target: ['acm://eu-west-1', 'acm://eu-west-1'] }))).toMatch(/given twice/);
  });

  it('never print the password of a URL', () => {
    expect(configError(() => build({ target: ['ftp://user:secret@host/x'] }))).not.toContain('secret');
  });

  it('refuse a --haproxy-socket that is neither an absolute path nor host:port', () => {
    expect(configError(() => build({ haproxySocket: ['run/haproxy.sock'] }))).toMatch(/^--haproxy-socket: expected an absolute unix socket path or host:port/);
    expect(configError(() => build({ haproxySocket: ['localhost'] }))).toMatch(/^--haproxy-socket/);
    expect(configError(() => build({ haproxySocket: ['localhost:70000'] }))).toMatch(/^--haproxy-socket/);
  });

  it('require --ssh-key and --ssh-known-hosts with an sftp:// target, and resolve them like other files', () => {
    const sftp = 'sftp://deploy@files.example.com:2222/etc/haproxy/certs';
    expect(configError(() => build({ target: [sftp] }))).toMatch(/^--ssh-key: required with an sftp:\/\/ target/);
    expect(configError(() => build({ target: [sftp], sshKey: 'id' }))).toMatch(/^--ssh-known-hosts: required with an sftp:\/\/ target/);
    const c = build({ target: [sftp], sshKey: '~/.ssh/id_ed25519', sshKnownHosts: 'known_hosts', sftpMode: '0640', sftpUid: '0', sftpGid: '99' });
    expect(c.targets?.sftp).toEqual({ keyFile: '/home/op/.ssh/id_ed25519', knownHostsFile: '/srv/known_hosts', mode: 0o640, uid: 0, gid: 99 });
    // Without an sftp:// target they are not needed, and not kept.
    expect(build({ target: ['iam://'], sshKey: 'id' }).targets?.sftp).toBeUndefined();
  });

  it('check --sftp-mode as octal and --sftp-uid/--sftp-gid as whole numbers', () => {
    const base = { target: ['sftp://u@h/p'], sshKey: 'k', sshKnownHosts: 'kh' };
    expect(build({ ...base, sftpMode: '600' }).targets?.sftp?.mode).toBe(0o600);
    expect(configError(() => build({ ...base, sftpMode: '0689' }))).toMatch(/^--sftp-mode: must be an octal file mode/);
    expect(configError(() => build({ ...base, sftpMode: 'rw-r-----' }))).toMatch(/^--sftp-mode/);
    expect(configError(() => build({ ...base, sftpUid: '-1' }))).toMatch(/^--sftp-uid: must be a numeric id/);
    expect(configError(() => build({ ...base, sftpGid: 'www' }))).toMatch(/^--sftp-gid: must be a numeric id/);
  });

  it('check each kind\'s URL at once (region, listener ARN, SFTP user), an invalid option with the target\'s error as cause', () => {
    expect(configError(() => build({ target: ['acm://mars'] }))).toMatch(/^--target: acm:\/\/mars/);
    expect(configError(() => build({ target: ['elbv2://arn:aws:iam::123456789012:user/x'] }))).toMatch(/^--target: elbv2:/);
    expect(configError(() => build({ target: ['sftp://host/etc/haproxy'], sshKey: 'k', sshKnownHosts: 'kh' }))).toMatch(/^--target: .*sftp:\/\/host/);
    try {
      build({ target: ['acm://mars'] });
    } catch (err) {
      expect(isWhisperError((err as Error).cause, 'TARGET_CONFIG')).toBe(true);
    }
  });

  it('exit with code 2 on a bad target option, before anything runs', async () => {
    const err: string[] = [];
    const io = { env: {}, cwd: '/srv', stdout: () => undefined, stderr: (t: string) => void err.push(t) };
    expect(await main(['certs', '--target', 'gopher://x'], io)).toBe(2);
    expect(err.join('')).toContain('--target: gopher://x: unknown scheme');
  });

  it('exit with code 2 when an SFTP target pins no host key, before anything is ordered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whisper-sftp-check-'));
    try {
      const key = join(dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const knownHosts = join(dir, 'known_hosts');
      writeFileSync(knownHosts, '# nothing pinned yet\n');
      const err: string[] = [];
      const io = { env: { ACME_REGISTER_EMAIL: 'ops@example.com' }, cwd: dir, stdout: () => undefined, stderr: (t: string) => void err.push(t) };
      const code = await main([join(dir, 'certs'), '--target', 'sftp://deploy@files.example.net/etc/haproxy', '--ssh-key', key, '--ssh-known-hosts', knownHosts], io);
      expect(err.join('')).toContain('pins no key for files.example.net');
      expect(code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
