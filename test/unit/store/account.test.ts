import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createFolderStore } from '../../../src/store/folder.js';
import { createLogger } from '../../../src/log.js';
import { makeKey } from './x509-fixture.js';
import { failure } from '../failure.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-account-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const DIR_URL = 'https://acme.example/directory';


describe('folder store: ACME account', () => {
  it('has no account before the first registration', async () => {
    expect(await createFolderStore(dir).readAccount()).toBeUndefined();
  });

  it('round-trips the key (.acme, 0600) and the URLs per directory (.acme.json)', async () => {
    const root = path.join(dir, 'new');
    const store = createFolderStore(root);
    const key = makeKey().pem;
    await store.writeAccount({ key, urls: { [DIR_URL]: 'https://acme.example/acct/1' } });
    await store.writeAccount({ key, urls: { [DIR_URL]: 'https://acme.example/acct/1', 'https://other/dir': 'https://other/acct/9' } });

    expect(await fsp.readFile(path.join(root, '.acme'), 'utf8')).toBe(key);
    expect((await fsp.stat(path.join(root, '.acme'))).mode & 0o777).toBe(0o600);
    expect((await fsp.stat(root)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await fsp.readFile(path.join(root, '.acme.json'), 'utf8'))).toMatchObject({
      urls: { [DIR_URL]: 'https://acme.example/acct/1', 'https://other/dir': 'https://other/acct/9' },
    });
    expect(await store.readAccount()).toEqual({
      key,
      urls: { [DIR_URL]: 'https://acme.example/acct/1', 'https://other/dir': 'https://other/acct/9' },
    });
    expect((await fsp.readdir(root)).sort()).toEqual(['.acme', '.acme.json']);
  });

  it('reads a whisper .acme (PKCS#1 RSA key) without .acme.json', async () => {
    const { privateKey } = makeKey('rsa');
    const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    await fsp.writeFile(path.join(dir, '.acme'), pkcs1, { mode: 0o600 });
    expect(await createFolderStore(dir).readAccount()).toEqual({ key: pkcs1, urls: {} });
  });

  it('reports a corrupt .acme as ACME_ACCOUNT and never overwrites it', async () => {
    await fsp.writeFile(path.join(dir, '.acme'), 'garbage');
    const store = createFolderStore(dir);
    const err = await failure(store.readAccount());
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain('.acme');
    expect((await failure(store.writeAccount({ key: makeKey().pem, urls: {} }))).code).toBe('ACME_ACCOUNT');
    expect(await fsp.readFile(path.join(dir, '.acme'), 'utf8')).toBe('garbage');
  });

  it('refuses to replace the account key with another one', async () => {
    const store = createFolderStore(dir);
    const key = makeKey().pem;
    await store.writeAccount({ key, urls: {} });
    expect((await failure(store.writeAccount({ key: makeKey().pem, urls: {} }))).code).toBe('ACME_ACCOUNT');
    expect(await fsp.readFile(path.join(dir, '.acme'), 'utf8')).toBe(key);
    expect((await failure(store.writeAccount({ key: 'not a key', urls: {} }))).code).toBe('ACME_ACCOUNT');
  });

  it('treats an unreadable .acme.json as no URLs, with a warning', async () => {
    const key = makeKey().pem;
    await fsp.writeFile(path.join(dir, '.acme'), key);
    await fsp.writeFile(path.join(dir, '.acme.json'), '{ nope');
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const store = createFolderStore(dir, { log: createLogger({ destination }) });
    expect(await store.readAccount()).toEqual({ key, urls: {} });
    expect(lines.join('')).toContain('ignoring unreadable account URL file');
    expect(lines.join('')).not.toContain('PRIVATE KEY');
  });

  it('replaces a different or corrupt account when told to (a cache of the cluster\'s), keeping the old files aside', async () => {
    const store = createFolderStore(dir, { now: () => Date.parse('2025-01-02T03:04:05Z') });
    const old = makeKey().pem;
    await store.writeAccount({ key: old, urls: { [DIR_URL]: 'https://acme.example/acct/1' } });
    const shared = makeKey().pem;
    await store.replaceAccount!({ key: shared, urls: { [DIR_URL]: 'https://acme.example/acct/2' } });
    expect(await store.readAccount()).toEqual({ key: shared, urls: { [DIR_URL]: 'https://acme.example/acct/2' } });
    expect((await fsp.readdir(dir)).sort()).toEqual(['.acme', '.acme.json', '.acme.json.replaced-20250102T030405Z', '.acme.replaced-20250102T030405Z']);
    expect(await fsp.readFile(path.join(dir, '.acme.replaced-20250102T030405Z'), 'utf8')).toBe(old);
    expect((await fsp.stat(path.join(dir, '.acme.replaced-20250102T030405Z'))).mode & 0o777).toBe(0o600);

    await fsp.writeFile(path.join(dir, '.acme'), 'garbage');
    await createFolderStore(dir, { now: () => Date.parse('2025-01-03T00:00:00Z') }).replaceAccount!({ key: shared, urls: {} });
    expect(await fsp.readFile(path.join(dir, '.acme.replaced-20250103T000000Z'), 'utf8')).toBe('garbage');
    expect((await store.readAccount())?.key).toBe(shared);
  });

  it('replaces nothing when the account is missing or the same key', async () => {
    const store = createFolderStore(path.join(dir, 'new'));
    const key = makeKey().pem;
    await store.replaceAccount!({ key, urls: {} });
    await store.replaceAccount!({ key, urls: { [DIR_URL]: 'https://acme.example/acct/3' } });
    expect((await fsp.readdir(path.join(dir, 'new'))).sort()).toEqual(['.acme', '.acme.json']);
    expect((await store.readAccount())?.urls).toEqual({ [DIR_URL]: 'https://acme.example/acct/3' });
  });
});
