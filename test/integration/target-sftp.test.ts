import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWhisperError, type WhisperError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createSftpTarget, type SftpTargetOptions } from '../../src/targets/sftp.js';
import type { DeliveryContext, DeliveryItem, Target } from '../../src/targets/types.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { makeBundle } from '../unit/store/x509-fixture.js';

const run = promisify(execFile);
const ID = 'www.sftp.test';
const ctx: DeliveryContext = { memo: {}, log: silentLogger(), now: () => Date.now() };
const isRoot = process.getuid?.() === 0;

function item(serial: bigint, id = ID): DeliveryItem {
  const b = makeBundle([id], { serial });
  return {
    id,
    names: [id],
    serial: serial.toString(16).toUpperCase(),
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-04-01T00:00:00Z'),
    key: b.key,
    cert: b.cert,
    chain: b.chain,
    path: `/nowhere/${id}.pem`,
  };
}

async function failure(p: Promise<unknown>): Promise<WhisperError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isWhisperError(err)) throw new Error(`expected a WhisperError, got ${String(err)}`);
  return err;
}

describe('SFTP target against OpenSSH sshd', () => {
  let dir: string;
  let sshd: Sshd;
  let knownHosts: string;
  let base: (path: string, extra?: Partial<SftpTargetOptions>) => Target;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whisper-sftp-'));
    sshd = await startSshd(dir);
    knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `# pinned\n${sshd.knownHostsLine}\n`);
    base = (path, extra = {}) =>
      createSftpTarget(new URL(`sftp://${sshd.user}@127.0.0.1:${sshd.port}${path}`), {
        keyFile: sshd.keyFile,
        knownHostsFile: knownHosts,
        timeoutMs: 10_000,
        ...extra,
      });
  });

  afterAll(async () => {
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('delivers, renews, skips a serial already there, and removes', async () => {
    const remote = join(dir, 'remote', 'a', 'certs');
    const target = base(remote);
    expect(target.name).toBe(`sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}`);

    const first = item(0x1001n);
    const out = await target.deliver(first, ctx, new AbortController().signal);
    expect(out?.detail).toMatch(/wrote/);
    expect(await readFile(join(remote, `${ID}.pem`), 'utf8')).toBe(first.key + first.cert + first.chain);
    expect(await readFile(join(remote, `${ID}.key`), 'utf8')).toBe(first.key);
    expect(await readFile(join(remote, `${ID}.crt`), 'utf8')).toBe(first.cert + first.chain);
    for (const f of ['pem', 'key', 'crt']) expect((await stat(join(remote, `${ID}.${f}`))).mode & 0o777).toBe(0o600);
    expect((await stat(remote)).isDirectory()).toBe(true);

    // A temporary file an interrupted delivery left behind is cleaned up by the next one.
    await writeFile(join(remote, `.${ID}.pem.tmp-deadbeef`), 'partial');
    const renewed = item(0x2002n);
    await target.deliver(renewed, ctx, new AbortController().signal);
    expect(await readFile(join(remote, `${ID}.pem`), 'utf8')).toBe(renewed.key + renewed.cert + renewed.chain);
    expect((await readdir(remote)).sort()).toEqual([`${ID}.crt`, `${ID}.key`, `${ID}.pem`]);

    const before = await Promise.all(['pem', 'key', 'crt'].map((f) => stat(join(remote, `${ID}.${f}`))));
    await new Promise((r) => setTimeout(r, 20));
    const again = await target.deliver(renewed, ctx, new AbortController().signal);
    expect(again?.detail).toMatch(/already in place/);
    const after = await Promise.all(['pem', 'key', 'crt'].map((f) => stat(join(remote, `${ID}.${f}`))));
    expect(after.map((s) => [s.ino, s.mtimeMs])).toEqual(before.map((s) => [s.ino, s.mtimeMs]));

    // A removal that names another serial than the one in place keeps the files.
    await target.remove?.({ id: ID, path: `/nowhere/${ID}.pem`, serial: '1001' }, ctx, new AbortController().signal);
    expect((await readdir(remote)).length).toBe(3);
    await target.remove?.({ id: ID, path: `/nowhere/${ID}.pem`, serial: renewed.serial }, ctx, new AbortController().signal);
    expect(await readdir(remote)).toEqual([]);
    // Removing what is gone succeeds.
    await target.remove?.({ id: ID, path: `/nowhere/${ID}.pem` }, ctx, new AbortController().signal);
    await target.close?.();
  });

  it('applies --sftp-mode, --sftp-uid and --sftp-gid', async () => {
    const remote = join(dir, 'remote', 'owned');
    // As root, another user's ids; otherwise the only ones sshd lets a user give its files: its own.
    const [uid, gid] = isRoot ? [1000, 1001] : [process.getuid!(), process.getgid!()];
    const target = base(remote, { mode: 0o640, uid, gid });
    await target.deliver(item(0x3003n), ctx, new AbortController().signal);
    for (const f of ['pem', 'key', 'crt']) {
      const s = await stat(join(remote, `${ID}.${f}`));
      expect([s.mode & 0o777, s.uid, s.gid]).toEqual([0o640, uid, gid]);
    }
    const folder = await stat(remote);
    expect([folder.mode & 0o777, folder.uid, folder.gid]).toEqual([0o750, uid, gid]);
    // Owner or mode changed by hand: the same serial again puts them back without rewriting the files.
    await run('chmod', ['0644', join(remote, `${ID}.key`)]);
    const ino = (await stat(join(remote, `${ID}.key`))).ino;
    const out = await target.deliver(item(0x3003n), ctx, new AbortController().signal);
    expect(out?.detail).toMatch(/corrected/);
    const key = await stat(join(remote, `${ID}.key`));
    expect([key.ino, key.mode & 0o777]).toEqual([ino, 0o640]);
  });

  it('accepts a hashed known_hosts entry', async () => {
    const hashed = join(dir, 'known_hosts.hashed');
    await writeFile(hashed, `${sshd.knownHostsLine}\n`);
    await run('ssh-keygen', ['-q', '-H', '-f', hashed]);
    expect(await readFile(hashed, 'utf8')).toMatch(/^\|1\|/);
    const remote = join(dir, 'remote', 'hashed');
    await base(remote, { knownHostsFile: hashed }).deliver(item(0x4004n), ctx, new AbortController().signal);
    expect(await readdir(remote)).toHaveLength(3);
  });

  it('refuses a host key that is not the pinned one, and writes nothing', async () => {
    const wrong = join(dir, 'known_hosts.wrong');
    await writeFile(wrong, `${sshd.wrongKnownHostsLine}\n`);
    const remote = join(dir, 'remote', 'wrong');
    const err = await failure(base(remote, { knownHostsFile: wrong }).deliver(item(0x5005n), ctx, new AbortController().signal));
    expect(err.code).toBe('TARGET_SFTP');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`[127.0.0.1]:${sshd.port}`);
    expect(err.message).toContain(wrong);
    expect(err.message).toMatch(/does not match/);
    await expect(stat(remote)).rejects.toThrow();
  });

  it('refuses a server that has none of the key types pinned for it', async () => {
    const ecdsa = join(dir, 'known_hosts.ecdsa');
    const keyFile = join(dir, 'ecdsa_host_key');
    await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-C', '', '-f', keyFile]);
    const pub = (await readFile(`${keyFile}.pub`, 'utf8')).trim();
    await writeFile(ecdsa, `[127.0.0.1]:${sshd.port} ${pub}\n`);
    const remote = join(dir, 'remote', 'ecdsa');
    const err = await failure(base(remote, { knownHostsFile: ecdsa }).deliver(item(0x5006n), ctx, new AbortController().signal));
    expect([err.code, err.retryable]).toEqual(['TARGET_SFTP', false]);
    expect(err.message).toContain(`offers none of the host key types pinned for it in ${ecdsa}`);
    await expect(stat(remote)).rejects.toThrow();
  });

  it('refuses a host the known_hosts file does not name', async () => {
    const other = join(dir, 'known_hosts.other');
    // The same key, pinned for another port: a different host as far as ssh is concerned.
    await writeFile(other, `[127.0.0.1]:${sshd.port + 1} ${sshd.hostPublicKey}\nexample.org ${sshd.hostPublicKey}\n`);
    const remote = join(dir, 'remote', 'unknown');
    const err = await failure(base(remote, { knownHostsFile: other }).deliver(item(0x6006n), ctx, new AbortController().signal));
    expect([err.code, err.retryable]).toEqual(['TARGET_SFTP', false]);
    expect(err.message).toContain(`[127.0.0.1]:${sshd.port} is not in the known hosts file ${other}`);
    await expect(stat(remote)).rejects.toThrow();
  });

  it('reports a refused login as not retryable, naming the key file', async () => {
    const remote = join(dir, 'remote', 'stranger');
    const err = await failure(
      base(remote, { keyFile: sshd.unauthorizedKeyFile }).deliver(item(0x7007n), ctx, new AbortController().signal),
    );
    expect([err.code, err.retryable]).toEqual(['TARGET_SFTP', false]);
    expect(err.message).toContain(sshd.unauthorizedKeyFile);
    expect(err.message).toMatch(/authorized_keys/);
  });

  it('fails retryably while sshd is down, and delivers once it is back', async () => {
    const remote = join(dir, 'remote', 'outage');
    const target = base(remote);
    await sshd.stop();
    try {
      const err = await failure(target.deliver(item(0x8008n), ctx, new AbortController().signal));
      expect([err.code, err.retryable]).toEqual(['TARGET_SFTP', true]);
      expect(err.message).toMatch(/ECONNREFUSED/);
    } finally {
      await sshd.start();
    }
    await target.deliver(item(0x8008n), ctx, new AbortController().signal);
    expect((await readdir(remote)).sort()).toEqual([`${ID}.crt`, `${ID}.key`, `${ID}.pem`]);
  });

  it('never puts key material in errors', async () => {
    const remote = join(dir, 'remote', 'denied');
    const it1 = item(0x9009n);
    // A file where the folder should be: the delivery fails after connecting.
    await writeFile(remote, 'not a folder');
    const err = await failure(base(remote).deliver(it1, ctx, new AbortController().signal));
    expect(err.code).toBe('TARGET_SFTP');
    const body = it1.key.split('\n')[1] ?? '';
    expect(`${err.message} ${String(err.cause)}`).not.toContain(body);
  });
});
