import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFolderStore } from '../../../src/store/folder.js';
import { nodeFs } from '../../../src/store/atomic.js';
import { makeBundle } from './x509-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-remove-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const ID = 'www.example.com';

describe('folder store: remove', () => {
  it('removes the HAProxy file and the extra formats of the id, and nothing else', async () => {
    const formatsDir = path.join(dir, 'formats');
    const store = createFolderStore(dir, { formats: ['haproxy', 'certbot', 'pkcs12'], formatsDir });
    await store.write(ID, makeBundle([ID]));
    await store.write('api.example.com', makeBundle(['api.example.com']));
    await store.remove!(ID);
    expect((await fsp.readdir(dir)).sort()).toEqual(['api.example.com.pem', 'formats']);
    expect((await fsp.readdir(formatsDir)).sort()).toEqual(['api.example.com', 'api.example.com.p12']);
    expect(await store.read(ID)).toBeUndefined();
    // Already gone: done.
    await store.remove!(ID);
  });

  it('keeps a certbot folder holding a file someone else put there', async () => {
    const store = createFolderStore(dir, { formats: ['haproxy', 'certbot'] });
    await store.write(ID, makeBundle([ID]));
    await fsp.writeFile(path.join(dir, ID, 'notes.txt'), 'mine');
    await store.remove!(ID);
    expect(await fsp.readdir(path.join(dir, ID))).toEqual(['notes.txt']);
    expect(await store.read(ID)).toBeUndefined();
  });

  it('fails with a retryable STORE_WRITE and keeps the HAProxy file when a file cannot be removed', async () => {
    const fs = { ...nodeFs, unlink: async () => Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })) };
    const store = createFolderStore(dir, { fs });
    await store.write(ID, makeBundle([ID]));
    await expect(store.remove!(ID)).rejects.toMatchObject({ code: 'STORE_WRITE', retryable: true });
    expect(await store.read(ID)).toBeDefined();
  });

  it('refuses an id that is not a file name', async () => {
    await expect(createFolderStore(dir).remove!('../etc')).rejects.toMatchObject({ code: 'HOSTNAME_INVALID' });
  });
});
