import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWhisperError, type WhisperError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { checkSftpTargetOptions, loadSftpSecrets, resolveSftpOptions } from '../../src/targets/sftp-config.js';
import { connectError, sftpError, type SftpErrorContext } from '../../src/targets/sftp-errors.js';
import { createSftpTarget } from '../../src/targets/sftp.js';
import type { DeliveryItem } from '../../src/targets/types.js';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGBUrKFvE36zSOzV7KyddWzHFi/ukYzmCmkAoMrAkT8E';
const item: DeliveryItem = {
  id: 'www.example.com',
  names: ['www.example.com'],
  serial: '01',
  notBefore: new Date(0),
  notAfter: new Date(0),
  key: 'not used',
  cert: '',
  chain: '',
  path: '/x',
};
const ctx = { memo: {}, log: silentLogger(), now: () => 0 };
const errCtx: SftpErrorContext = {
  name: 'sftp://deploy@h:22/p',
  user: 'deploy',
  host: 'h',
  port: 22,
  keyFile: '/keys/id',
  knownHostsFile: '/keys/known_hosts',
};

async function failure(p: Promise<unknown>): Promise<WhisperError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isWhisperError(err)) throw new Error(`expected a WhisperError, got ${String(err)}`);
  return err;
}

describe('SFTP connections', () => {
  let dir: string;
  let keyFile: string;
  let privateKey: string;
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();
  let accepted = 0;

  const knownHosts = async (line: string) => {
    const file = join(dir, `kh-${Math.random()}`);
    await writeFile(file, `${line}\n`);
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whisper-sftp-unit-'));
    keyFile = join(dir, 'id_ed25519');
    privateKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    await writeFile(keyFile, privateKey, { mode: 0o600 });
    // Accepts connections and never says a word: the SSH handshake cannot finish.
    silent = createServer((s) => {
      accepted++;
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
    silentPort = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((res) => silent.close(res));
    await rm(dir, { recursive: true, force: true });
  });

  it('times out a server that does not answer, retryably', async () => {
    const kh = await knownHosts(`[127.0.0.1]:${silentPort} ${HOST_KEY}`);
    const t = createSftpTarget(new URL(`sftp://u@127.0.0.1:${silentPort}/p`), { keyFile, knownHostsFile: kh, timeoutMs: 300 });
    const started = Date.now();
    const err = await failure(t.deliver(item, ctx, new AbortController().signal));
    expect([err.code, err.retryable]).toEqual(['TARGET_SFTP', true]);
    expect(err.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops at once when the caller aborts', async () => {
    const kh = await knownHosts(`[127.0.0.1]:${silentPort} ${HOST_KEY}`);
    const t = createSftpTarget(new URL(`sftp://u@127.0.0.1:${silentPort}/p`), { keyFile, knownHostsFile: kh });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stopping')), 50);
    const err = await failure(t.deliver(item, ctx, ac.signal));
    expect(err.code).toBe('ABORTED');
  });

  it('refuses a host with no pinned key without connecting to it', async () => {
    const kh = await knownHosts(`other.example.com ${HOST_KEY}`);
    const before = accepted;
    const t = createSftpTarget(new URL(`sftp://u@127.0.0.1:${silentPort}/p`), { keyFile, knownHostsFile: kh });
    const err = await failure(t.deliver(item, ctx, new AbortController().signal));
    expect([err.code, err.retryable]).toEqual(['TARGET_SFTP', false]);
    expect(err.message).toBe(
      `sftp://u@127.0.0.1:${silentPort}/p: refusing to connect: [127.0.0.1]:${silentPort} is not in the known hosts file ${kh}: add its key (ssh-keyscan -p ${silentPort} 127.0.0.1) after checking its fingerprint with the server's administrator`,
    );
    expect(accepted).toBe(before);
  });

  it('reports a closed port as retryable', async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const kh = await knownHosts(`[127.0.0.1]:${port} ${HOST_KEY}`);
    const t = createSftpTarget(new URL(`sftp://u@127.0.0.1:${port}/p`), { keyFile, knownHostsFile: kh });
    const err = await failure(t.deliver(item, ctx, new AbortController().signal));
    expect([err.code, err.retryable, err.message]).toEqual([
      'TARGET_SFTP',
      true,
      `sftp://u@127.0.0.1:${port}/p: cannot reach 127.0.0.1:${port} (ECONNREFUSED)`,
    ]);
  });

  it('checks the key file and the known_hosts file at start, never printing the key', async () => {
    const kh = await knownHosts(`files.example.com ${HOST_KEY}`);
    const url = new URL('sftp://u@files.example.com/p');
    await expect(checkSftpTargetOptions(url, { keyFile, knownHostsFile: kh })).resolves.toBeUndefined();

    const other = await knownHosts(`elsewhere.example.com ${HOST_KEY}`);
    const unknown = await failure(checkSftpTargetOptions(url, { keyFile, knownHostsFile: other }));
    expect(unknown.code).toBe('TARGET_CONFIG');
    expect(unknown.message).toMatch(/pins no key for files.example.com: add it with ssh-keyscan files.example.com/);

    const missing = await failure(checkSftpTargetOptions(url, { keyFile: join(dir, 'nope'), knownHostsFile: kh }));
    expect(missing.message).toMatch(/cannot read the key file .*nope \(--ssh-key\): ENOENT/);
    const noHosts = await failure(checkSftpTargetOptions(url, { keyFile, knownHostsFile: join(dir, 'nope') }));
    expect(noHosts.message).toMatch(/cannot read the known hosts file .*\(--ssh-known-hosts\): ENOENT/);

    const encrypted = join(dir, 'encrypted');
    await writeFile(
      encrypted,
      ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'secret', cipher: 'aes256-ctr', rounds: 1 }).private,
    );
    const enc = await failure(checkSftpTargetOptions(url, { keyFile: encrypted, knownHostsFile: kh }));
    expect(enc.message).toMatch(/is not an unencrypted private key/);

    const pub = join(dir, 'public');
    await writeFile(pub, HOST_KEY);
    const notKey = await failure(checkSftpTargetOptions(url, { keyFile: pub, knownHostsFile: kh }));
    expect(notKey.message).toMatch(/is not an unencrypted private key/);
    for (const e of [unknown, missing, noHosts, enc, notKey]) {
      expect(e.message).not.toContain(privateKey.split('\n')[1]);
    }
  });

  it('warns when the key file is readable by others', async () => {
    const open = join(dir, 'open_key');
    await writeFile(open, privateKey);
    await chmod(open, 0o644);
    const kh = await knownHosts(`files.example.com ${HOST_KEY}`);
    const r = resolveSftpOptions(new URL('sftp://u@files.example.com/p'), { keyFile: open, knownHostsFile: kh });
    expect((await loadSftpSecrets(r, 'TARGET_SFTP')).keyFileOpen).toBe(true);
    const warnings: string[] = [];
    const log = { ...silentLogger(), warn: (_o: unknown, msg: string) => void warnings.push(msg) } as never;
    await checkSftpTargetOptions(new URL('sftp://u@files.example.com/p'), { keyFile: open, knownHostsFile: kh, log });
    expect(warnings).toEqual(['the SSH key file can be read by group or others: chmod 600 it']);
  });
});

describe('SFTP error mapping', () => {
  it('tells refused logins and missing host key types from network trouble', () => {
    const auth = connectError(errCtx, Object.assign(new Error('All configured authentication methods failed'), { level: 'client-authentication' }));
    expect([auth.retryable, auth.message]).toEqual([
      false,
      "sftp://deploy@h:22/p: h refused the login of deploy with the key in /keys/id: check that its public key is in deploy's authorized_keys on the server and that the user exists",
    ]);
    const algo = connectError(errCtx, Object.assign(new Error('Handshake failed: no matching host key format'), { level: 'handshake' }));
    expect(algo.retryable).toBe(false);
    expect(algo.message).toMatch(/offers none of the host key types pinned for it in \/keys\/known_hosts/);
    expect(connectError(errCtx, Object.assign(new Error('Timed out'), { level: 'client-timeout' })).retryable).toBe(true);
    expect(connectError(errCtx, Object.assign(new Error('x'), { code: 'EHOSTUNREACH' })).retryable).toBe(true);
    expect(connectError(errCtx, new Error('Connection lost before handshake')).retryable).toBe(true);
  });

  it('maps SFTP status codes', () => {
    const denied = sftpError(errCtx, 'write', '/p/a.pem', Object.assign(new Error('Permission denied'), { code: 3 }));
    expect(denied.retryable).toBe(false);
    expect(denied.message).toMatch(/permission denied to write \/p\/a.pem as deploy/);
    expect(sftpError(errCtx, 'write', '/p/a.pem', Object.assign(new Error('Failure'), { code: 4 })).retryable).toBe(true);
    expect(sftpError(errCtx, 'write', '/p/a.pem', Object.assign(new Error('x'), { code: 8 })).retryable).toBe(false);
    expect(sftpError(errCtx, 'write', '/p/a.pem', new Error('No response from server')).retryable).toBe(true);
  });
});
