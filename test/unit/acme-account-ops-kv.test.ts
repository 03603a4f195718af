import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { rolloverAccountKey } from '../../src/acme/account-ops.js';
import { accountKvKey, createKvAccountStore, decodeAccount } from '../../src/ha/kv-account.js';
import { kvCodec } from '../../src/ha/kv-crypto.js';
import { sameKey } from '../../src/store/account-key.js';
import { createFolderStore } from '../../src/store/folder.js';
import { makeKey } from './store/x509-fixture.js';
import { failure } from './failure.js';
import { fakeKv } from './ha/fake-kv.js';
import { fakeAccountCa } from './acme-account-ops-fake.js';

const DIR = 'https://ca.test/directory';
const KEY = accountKvKey('whisper/leader');
const log = silentLogger();

let base: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-account-kv-'));
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

async function cluster() {
  const kv = fakeKv();
  const codec = kvCodec(undefined);
  const folder = createFolderStore(base);
  const store = createKvAccountStore(folder, { api: kv.api, key: KEY, codec, log });
  const ca = fakeAccountCa();
  const key = makeKey().pem;
  const url = ca.register(key);
  await store.writeAccount({ key, urls: { [DIR]: url } });
  const inKv = async () => decodeAccount(KEY, codec.decode(KEY, (await kv.api.kvRead(KEY, {})).item!.value));
  return { kv, folder, store, ca, key, url, inKv };
}

describe('the cluster account in Consul KV: deliberate replacement', () => {
  it('a rollover replaces the KV copy (check-and-set) and the folder copy follows', async () => {
    const { folder, store, ca, key, url, inKv } = await cluster();
    const result = await rolloverAccountKey({ directoryUrl: DIR, store, clients: ca.factory, pendingKeyFile: path.join(base, '.acme.next'), log });
    const shared = await inKv();
    expect(sameKey(shared.key, key)).toBe(false);
    expect(shared.urls).toEqual({ [DIR]: url });
    expect(ca.urlOf(shared.key)).toBe(url);
    expect(sameKey((await folder.readAccount())!.key, shared.key)).toBe(true);
    expect(result.keptAs).toMatch(/^\.acme\.old-/);
  });

  it('refuses to replace an account KV no longer holds (another instance changed it): ACME_ACCOUNT, KV untouched', async () => {
    const { store, key, inKv } = await cluster();
    const other = makeKey().pem;
    const err = await failure(store.rotateAccount!({ key: other, urls: {} }, { key: makeKey().pem, urls: {} }, 'old'));
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain(KEY);
    expect(sameKey((await inKv()).key, key)).toBe(true);
  });

  it('is safe to repeat: KV already holding the new key only takes its URLs', async () => {
    const { store, key, inKv } = await cluster();
    const next = makeKey().pem;
    await store.rotateAccount!({ key, urls: {} }, { key: next, urls: { [DIR]: 'u1' } }, 'old');
    await store.rotateAccount!({ key, urls: {} }, { key: next, urls: { [DIR]: 'u2' } }, 'old');
    const shared = await inKv();
    expect(sameKey(shared.key, next)).toBe(true);
    expect(shared.urls).toEqual({ [DIR]: 'u2' });
  });
});
