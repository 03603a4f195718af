import { describe, expect, it } from 'vitest';
import { isWhisperError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { resolveSftpOptions, type SftpTargetOptions } from '../../src/targets/sftp-config.js';
import { deliverFiles, removeFiles } from '../../src/targets/sftp-deliver.js';
import { firstSerial, isLeftover, safeId, sftpFileNames, sftpFiles, tempName } from '../../src/targets/sftp-files.js';
import { remoteFs } from '../../src/targets/sftp-fs.js';
import type { DeliveryItem } from '../../src/targets/types.js';
import { makeBundle } from './store/x509-fixture.js';
import { fakeSftp } from './targets-sftp-fake.js';

const log = silentLogger();

function item(serial: bigint, id = 'www.example.com'): DeliveryItem {
  const b = makeBundle([id], { serial });
  return {
    id,
    names: [id],
    serial: serial.toString(16).toUpperCase(),
    notBefore: new Date(0),
    notAfter: new Date(0),
    key: b.key,
    cert: b.cert,
    chain: b.chain,
    path: `/certs/${id}.pem`,
  };
}

function setup(options: Partial<SftpTargetOptions> = {}, fake = fakeSftp()) {
  const r = resolveSftpOptions(new URL('sftp://deploy@h/srv/tls/live'), { keyFile: '/k', knownHostsFile: '/kh', ...options });
  return { r, fake, fs: remoteFs(fake.session, r.errors) };
}

describe('SFTP files', () => {
  it('writes <id>.key, <id>.pem (key, leaf, chain, as the folder) and <id>.crt (leaf, chain)', () => {
    const it1 = item(0x10n);
    const files = sftpFiles({ ...it1, key: `${it1.key}\n\n`, chain: `junk\n${it1.chain}` });
    expect(files.map((f) => f.name)).toEqual(['www.example.com.key', 'www.example.com.pem', 'www.example.com.crt']);
    expect(files.map((f) => f.data.toString())).toEqual([it1.key, it1.key + it1.cert + it1.chain, it1.cert + it1.chain]);
    expect(firstSerial(files[2]!.data.toString())).toBe('10');
    expect(firstSerial('no certificate')).toBeUndefined();
  });

  it('names temporary files after the file, hidden, and recognises leftovers of its own files only', () => {
    const t = tempName('a.pem');
    expect(t).toMatch(/^\.a\.pem\.tmp-[0-9a-f]{12}$/);
    expect(tempName('a.pem')).not.toBe(t);
    const names = sftpFileNames('a');
    expect(isLeftover('.a.pem.tmp-123', names)).toBe(true);
    expect(isLeftover('.a.crt.old-1', names)).toBe(true);
    expect(isLeftover('.ab.pem.tmp-123', names)).toBe(false);
    expect(isLeftover('a.pem', names)).toBe(false);
  });

  it('refuses ids that are not plain file names', () => {
    expect(['www.example.com', 'multi-hosts.example.com'].every(safeId)).toBe(true);
    expect(['', '.hidden', '../x', 'a/b', 'a\\b', 'a\0b'].some(safeId)).toBe(false);
  });
});

describe('SFTP delivery on a remote file system', () => {
  it('creates the folder, writes temporaries, renames them in with .crt last, and applies the mode', async () => {
    const { r, fake, fs } = setup({ mode: 0o640 });
    const it1 = item(0x11n);
    const out = await deliverFiles(fs, r, it1, log);
    expect(out.detail).toMatch(/wrote/);
    expect(fake.isDir('/srv/tls/live')).toBe(true);
    expect(fake.ops.filter((o) => o.startsWith('mkdir'))).toEqual(['mkdir /srv', 'mkdir /srv/tls', 'mkdir /srv/tls/live']);
    const renames = fake.ops.filter((o) => o.startsWith('posix-rename'));
    expect(renames.map((o) => o.split(' ')[2])).toEqual(['www.example.com.key', 'www.example.com.pem', 'www.example.com.crt']);
    expect(renames.every((o) => /^posix-rename \.www\.example\.com\.(key|pem|crt)\.tmp-/.test(o))).toBe(true);
    expect(fake.file('/srv/tls/live/www.example.com.pem')).toMatchObject({ text: it1.key + it1.cert + it1.chain, mode: 0o640 });
    expect(fake.list('/srv/tls/live')).toEqual(['www.example.com.crt', 'www.example.com.key', 'www.example.com.pem']);
  });

  it('writes nothing for a serial already in place, fixes a drifted mode, rewrites a missing file', async () => {
    const { r, fake, fs } = setup();
    const it1 = item(0x12n);
    await deliverFiles(fs, r, it1, log);
    fake.ops.length = 0;
    expect((await deliverFiles(fs, r, it1, log)).detail).toBe('serial 12 already in place');
    expect(fake.ops).toEqual([]);
    await new Promise<void>((res) => fake.session.sftp.chmod('/srv/tls/live/www.example.com.key', 0o644, () => res()));
    expect((await deliverFiles(fs, r, it1, log)).detail).toMatch(/www.example.com.key corrected/);
    expect(fake.file('/srv/tls/live/www.example.com.key')?.mode).toBe(0o600);
    await new Promise<void>((res) => fake.session.sftp.unlink('/srv/tls/live/www.example.com.pem', () => res()));
    expect((await deliverFiles(fs, r, it1, log)).detail).toMatch(/wrote/);
    expect(fake.list('/srv/tls/live')).toHaveLength(3);
  });

  it('replaces files without posix-rename by moving the old one aside, leaving no stray file', async () => {
    const { r, fake, fs } = setup({}, fakeSftp({ posixRename: false }));
    await deliverFiles(fs, r, item(0x13n), log);
    const renewed = item(0x14n);
    await deliverFiles(fs, r, renewed, log);
    expect(fake.file('/srv/tls/live/www.example.com.crt')?.text).toBe(renewed.cert + renewed.chain);
    expect(fake.list('/srv/tls/live')).toEqual(['www.example.com.crt', 'www.example.com.key', 'www.example.com.pem']);
    expect(fake.ops.some((o) => /^rename www\.example\.com\.pem \.www\.example\.com\.pem\.old-/.test(o))).toBe(true);
  });

  it('removes leftovers of an interrupted delivery, and only its own', async () => {
    const { r, fake, fs } = setup();
    await deliverFiles(fs, r, item(0x15n), log);
    fake.put('/srv/tls/live/.www.example.com.key.tmp-0badc0de', 'partial');
    fake.put('/srv/tls/live/.other.example.com.key.tmp-0badc0de', 'not ours');
    await deliverFiles(fs, r, item(0x16n), log);
    expect(fake.list('/srv/tls/live')).toEqual([
      '.other.example.com.key.tmp-0badc0de',
      'www.example.com.crt',
      'www.example.com.key',
      'www.example.com.pem',
    ]);
  });

  it('applies uid and gid; a user who may not chown gets a clear, final error and no file is put in place', async () => {
    const root = setup({ uid: 33, gid: 44 }, fakeSftp({ uid: 0 }));
    await deliverFiles(root.fs, root.r, item(0x17n), log);
    expect(root.fake.file('/srv/tls/live/www.example.com.key')).toMatchObject({ uid: 33, gid: 44, mode: 0o600 });

    const user = setup({ uid: 33 });
    const err = await deliverFiles(user.fs, user.r, item(0x18n), log).catch((e: unknown) => e);
    expect(isWhisperError(err, 'TARGET_SFTP') && !err.retryable).toBe(true);
    expect((err as Error).message).toMatch(/permission denied .* as deploy: check the remote folder's owner/);
    // The temporaries were removed, the folder holds nothing.
    expect(user.fake.list('/srv/tls/live')).toEqual([]);
  });

  it('removes its files, keeps them when they hold another serial than the one delivered', async () => {
    const { r, fake, fs } = setup();
    const it1 = item(0x19n);
    await deliverFiles(fs, r, it1, log);
    expect((await removeFiles(fs, r, { id: it1.id, path: it1.path, serial: 'FF' }, log)).detail).toMatch(/kept/);
    expect(fake.list('/srv/tls/live')).toHaveLength(3);
    expect((await removeFiles(fs, r, { id: it1.id, path: it1.path, serial: '19' }, log)).detail).toMatch(/removed/);
    expect(fake.list('/srv/tls/live')).toEqual([]);
    expect((await removeFiles(fs, r, { id: it1.id, path: it1.path }, log)).detail).toMatch(/removed/);
    const gone = setup();
    expect((await removeFiles(gone.fs, gone.r, { id: it1.id, path: it1.path }, log)).detail).toMatch(/folder absent/);
  });
});
