import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFolderStore } from '../../../src/store/folder.js';
import { silentLogger } from '../../../src/log.js';
import { createAcmeIssuer } from '../../../src/acme/issuer.js';
import { accountKvKey, createKvAccountStore } from '../../../src/ha/kv-account.js';
import { kvCodec, parseKeyFile } from '../../../src/ha/kv-crypto.js';
import type { DnsProvider } from '../../../src/dns/provider.js';
import type { CertStore } from '../../../src/store/types.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeCa } from '../acme/fake-ca.js';
import { failure } from '../failure.js';
import { fakeKv } from './fake-kv.js';

const DIR = 'https://ca.test/directory';
const KEY = accountKvKey('whisper/leader');
const dns: DnsProvider = { name: 'none', present: async () => undefined, cleanUp: async () => undefined };

let base: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-kv-account-'));
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

function instance(kv: ReturnType<typeof fakeKv>, name: string, codec = kvCodec(undefined)) {
  const folder = createFolderStore(path.join(base, name), { now: () => Date.parse('2025-01-02T03:04:05Z') });
  const store = createKvAccountStore(folder, { api: kv.api, key: KEY, codec, log: silentLogger() });
  return { folder, store };
}

function issuer(store: CertStore, ca: ReturnType<typeof fakeCa>) {
  return createAcmeIssuer({ directoryUrl: DIR, store, dns, propagate: async () => undefined, clients: ca.factory, email: 'ops@example.com' });
}

describe('the ACME account in Consul KV (--ha)', () => {
  it('lives beside the lock key', () => {
    expect(KEY).toBe('whisper/leader/account');
  });

  it('is registered once for the cluster: a later leader uses it and caches it in its folder', async () => {
    const kv = fakeKv();
    const ca = fakeCa();
    const a = instance(kv, 'a');
    const b = instance(kv, 'b');
    await issuer(a.store, ca).ensureAccount();
    await issuer(b.store, ca).ensureAccount();
    expect(ca.accounts).toHaveLength(1);
    const shared = JSON.parse(kv.get(KEY)!) as { key: string; urls: Record<string, string> };
    expect(shared.urls).toEqual({ [DIR]: 'https://ca.test/acct/1' });
    // The folder is a cache: `status` and a later run without --ha find the same account.
    expect(await b.folder.readAccount()).toEqual({ key: shared.key, urls: shared.urls });
    expect(await a.folder.readAccount()).toEqual({ key: shared.key, urls: shared.urls });
  });

  it('is created with check-and-set: of two instances creating one at once, the loser uses the winner\'s', async () => {
    const kv = fakeKv();
    const ca = fakeCa();
    const a = instance(kv, 'a');
    const b = instance(kv, 'b');
    const winner = makeKey().pem;
    // Just before B's first write, A's account lands in KV.
    kv.state.beforeCas = () => kv.put(KEY, JSON.stringify({ version: 1, key: winner, urls: { [DIR]: 'https://ca.test/acct/7' } }));
    await issuer(b.store, ca).ensureAccount();
    expect(ca.accounts).toEqual([]);
    expect(JSON.parse(kv.get(KEY)!)).toMatchObject({ key: winner });
    expect((await b.folder.readAccount())?.key).toBe(winner);
    expect(await a.store.readAccount()).toEqual({ key: winner, urls: { [DIR]: 'https://ca.test/acct/7' } });
  });

  it('is published from the local .acme when KV has none (upgrade), instead of registering a new one', async () => {
    const kv = fakeKv();
    const ca = fakeCa();
    const a = instance(kv, 'a');
    const local = { key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/42' } };
    await a.folder.writeAccount(local);
    await issuer(a.store, ca).ensureAccount();
    expect(ca.calls).toEqual([]);
    expect(JSON.parse(kv.get(KEY)!)).toEqual({ version: 1, ...local });
    expect(kv.calls).toContain(`cas ${KEY} 0`);
  });

  it('replaces a different local account by the cluster\'s, keeping the local one aside', async () => {
    const kv = fakeKv();
    const a = instance(kv, 'a');
    const b = instance(kv, 'b');
    const first = { key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/1' } };
    const other = { key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/2' } };
    await a.folder.writeAccount(first);
    await b.folder.writeAccount(other);
    expect(await a.store.readAccount()).toEqual(first);
    expect(await b.store.readAccount()).toEqual(first);
    expect(await b.folder.readAccount()).toEqual(first);
    const kept = await fsp.readFile(path.join(base, 'b', '.acme.replaced-20250102T030405Z'), 'utf8');
    expect(kept).toBe(other.key);
  });

  it('adds a URL of another directory without losing those another instance added (check-and-set, retried)', async () => {
    const kv = fakeKv();
    const a = instance(kv, 'a');
    const key = makeKey().pem;
    await a.store.writeAccount({ key, urls: {} });
    kv.state.beforeCas = () => kv.put(KEY, JSON.stringify({ version: 1, key, urls: { 'https://other/dir': 'https://other/acct/1' } }));
    await a.store.writeAccount({ key, urls: { [DIR]: 'https://ca.test/acct/1' } });
    expect(JSON.parse(kv.get(KEY)!).urls).toEqual({ 'https://other/dir': 'https://other/acct/1', [DIR]: 'https://ca.test/acct/1' });
    expect((await a.folder.readAccount())?.urls).toEqual({ 'https://other/dir': 'https://other/acct/1', [DIR]: 'https://ca.test/acct/1' });
  });

  it('is encrypted with --kv-encryption-key-file: no private key in KV, the folder gets the plain key', async () => {
    const kv = fakeKv();
    const ca = fakeCa();
    const codec = kvCodec(parseKeyFile(`k1:${Buffer.alloc(32, 9).toString('base64')}\n`, '/keys'));
    const a = instance(kv, 'a', codec);
    await issuer(a.store, ca).ensureAccount();
    expect(kv.get(KEY)).toMatch(/^whisper-enc:v1:k1:/);
    expect(kv.get(KEY)).not.toContain('PRIVATE KEY');
    expect((await a.folder.readAccount())?.key).toContain('PRIVATE KEY');
    const b = instance(kv, 'b', codec);
    expect((await b.store.readAccount())?.key).toBe((await a.folder.readAccount())?.key);
    // Without the key file, the encrypted account is refused by name, not replaced by a new one.
    const err = await failure(instance(kv, 'c').store.readAccount());
    expect(err.code).toBe('KV_DECRYPT');
    expect(err.message).toContain(KEY);
  });

  it('rewrites a plaintext (or older key\'s) KV account with the current key when a leader reads it', async () => {
    const kv = fakeKv();
    const account = { key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/1' } };
    await instance(kv, 'a').store.writeAccount(account);
    expect(kv.get(KEY)).toContain('PRIVATE KEY');
    const codec = kvCodec(parseKeyFile(`k2:${Buffer.alloc(32, 2).toString('base64')}\n`, '/keys'));
    expect(await instance(kv, 'b', codec).store.readAccount()).toEqual(account);
    expect(kv.get(KEY)).toMatch(/^whisper-enc:v1:k2:/);
    expect(codec.decode(KEY, kv.get(KEY)!)).toBe(JSON.stringify({ version: 1, ...account }));
  });

  it('refuses an unreadable KV account with ACME_ACCOUNT naming the key, and never falls back to the folder', async () => {
    const kv = fakeKv();
    const a = instance(kv, 'a');
    await a.folder.writeAccount({ key: makeKey().pem, urls: {} });
    kv.put(KEY, '{"version":1,"key":"nope","urls":{}}');
    const err = await failure(a.store.readAccount());
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain(KEY);
    kv.state.down = true;
    await expect(a.store.readAccount()).rejects.toThrow(/unreachable/);
  });
});
