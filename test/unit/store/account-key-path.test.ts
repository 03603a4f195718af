import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chooseAccountKeyFile, resolveAccountKeyFile, type KeyPathFs } from '../../../src/store/account-key-path.js';
import { failure } from '../failure.js';

let base: string;
let folder: string;
let home: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-key-path-'));
  folder = path.join(base, 'certs');
  home = path.join(base, 'home');
  await fsp.mkdir(folder);
  await fsp.mkdir(home);
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

describe('chooseAccountKeyFile: which account key file (pure)', () => {
  const places = { folder: '/certs', home: '/home/ops' };
  const only = (...files: string[]) => {
    const asked: string[] = [];
    return { asked, exists: (f: string) => (asked.push(f), files.includes(f)) };
  };

  it('-a wins, whether it exists or not (missing: a new key is created there)', () => {
    const all = only('/keys/acme.pem', '/certs/.acme', '/home/ops/.acme');
    expect(chooseAccountKeyFile({ ...places, file: '/keys/acme.pem' }, all.exists)).toEqual({ file: '/keys/acme.pem', source: 'option', exists: true, userProvided: true });
    expect(all.asked).toEqual(['/keys/acme.pem']);
    expect(chooseAccountKeyFile({ ...places, file: '/keys/new.pem' }, only('/certs/.acme').exists)).toEqual({ file: '/keys/new.pem', source: 'option', exists: false, userProvided: true });
  });

  it('without -a: the folder\'s .acme first, ~/.acme not even looked at', () => {
    const both = only('/certs/.acme', '/home/ops/.acme');
    expect(chooseAccountKeyFile(places, both.exists)).toEqual({ file: '/certs/.acme', source: 'folder', exists: true, userProvided: false });
    expect(both.asked).toEqual(['/certs/.acme']);
  });

  it('then ~/.acme (the last whisper\'s default)', () => {
    expect(chooseAccountKeyFile(places, only('/home/ops/.acme').exists)).toEqual({ file: '/home/ops/.acme', source: 'home', exists: true, userProvided: true });
  });

  it('else a new key at <folder>/.acme; without a home folder, ~/.acme is never asked for', () => {
    expect(chooseAccountKeyFile(places, only().exists)).toEqual({ file: '/certs/.acme', source: 'new', exists: false, userProvided: false });
    const none = only('/home/ops/.acme');
    expect(chooseAccountKeyFile({ folder: '/certs' }, none.exists).source).toBe('new');
    expect(none.asked).toEqual(['/certs/.acme']);
  });
});

describe('resolveAccountKeyFile: the same table on the file system', () => {
  const folderKey = () => path.join(folder, '.acme');
  const homeKey = () => path.join(home, '.acme');

  it('picks -a, the folder\'s .acme, ~/.acme, or a new <folder>/.acme', async () => {
    const explicit = path.join(base, 'keys', 'acme.pem');
    expect(await resolveAccountKeyFile({ folder, home, file: explicit })).toMatchObject({ file: explicit, source: 'option', exists: false });
    expect(await resolveAccountKeyFile({ folder, home })).toMatchObject({ file: folderKey(), source: 'new', exists: false });
    await fsp.writeFile(homeKey(), 'k');
    expect(await resolveAccountKeyFile({ folder, home })).toMatchObject({ file: homeKey(), source: 'home', exists: true });
    await fsp.writeFile(folderKey(), 'k');
    expect(await resolveAccountKeyFile({ folder, home })).toMatchObject({ file: folderKey(), source: 'folder', exists: true });
    await fsp.mkdir(path.dirname(explicit));
    await fsp.writeFile(explicit, 'k');
    expect(await resolveAccountKeyFile({ folder, home, file: explicit })).toMatchObject({ file: explicit, source: 'option', exists: true });
  });

  it('a directory where the key should be (Docker mounting a missing host file) is ACME_ACCOUNT naming it and saying why', async () => {
    await fsp.mkdir(homeKey());
    const err = await failure(resolveAccountKeyFile({ folder, home }));
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain(homeKey());
    expect(err.message).toMatch(/is a directory/);
    expect(err.message).toMatch(/Docker/);
    const explicit = path.join(base, 'mounted');
    await fsp.mkdir(explicit);
    const opt = await failure(resolveAccountKeyFile({ folder, home, file: explicit }));
    expect([opt.code, opt.message.includes(explicit), opt.message.includes('-a')]).toEqual(['ACME_ACCOUNT', true, true]);
    await fsp.mkdir(folderKey());
    expect((await failure(resolveAccountKeyFile({ folder }))).message).toContain(folderKey());
  });

  it('a directory at ~/.acme does not matter when the folder has its .acme', async () => {
    await fsp.mkdir(homeKey());
    await fsp.writeFile(folderKey(), 'k');
    expect((await resolveAccountKeyFile({ folder, home })).source).toBe('folder');
  });

  it('an unreadable key file, or one that cannot be looked at, is ACME_ACCOUNT: never a reason to make a new key', async () => {
    await fsp.writeFile(homeKey(), 'k', { mode: 0o600 });
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const unreadable: KeyPathFs = { stat: (f) => fsp.stat(f), access: async () => Promise.reject(denied) };
    const err = await failure(resolveAccountKeyFile({ folder, home }, unreadable));
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain(homeKey());
    expect(err.message).toMatch(/not readable by uid \d+: EACCES/);
    const hidden: KeyPathFs = { stat: async () => Promise.reject(denied), access: async () => undefined };
    const stat = await failure(resolveAccountKeyFile({ folder, home }, hidden));
    expect([stat.code, stat.message]).toEqual(['ACME_ACCOUNT', expect.stringContaining(folderKey())]);
    expect(stat.message).toContain('EACCES');
  });
});
