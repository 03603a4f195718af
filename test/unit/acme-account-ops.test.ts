import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WhisperError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { deactivateAccount, finishPendingRollover, rolloverAccountKey, showAccount } from '../../src/acme/account-ops.js';
import { keyThumbprint, sameKey } from '../../src/store/account-key.js';
import { createFolderStore } from '../../src/store/folder.js';
import type { CertStore } from '../../src/store/types.js';
import { makeKey } from './store/x509-fixture.js';
import { failure } from './failure.js';
import { fakeAccountCa } from './acme-account-ops-fake.js';

const DIR = 'https://ca.test/directory';
const OTHER = 'https://other-ca.test/directory';
const log = silentLogger();

let base: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-account-ops-'));
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

/** A folder holding a registered account, and the options of every operation on it. */
async function registered(extraUrls: Record<string, string> = {}) {
  const ca = fakeAccountCa();
  const store = createFolderStore(base, { now: () => Date.parse('2026-03-04T05:06:07.089Z') });
  const key = makeKey().pem;
  const url = ca.register(key);
  await store.writeAccount({ key, urls: { [DIR]: url, ...extraUrls } });
  const pendingKeyFile = path.join(base, '.acme.next');
  const opts = { directoryUrl: DIR, store, clients: ca.factory, folder: base, pendingKeyFile, log };
  return { ca, store, key, url, opts, pendingKeyFile };
}

const mode = async (file: string) => (await fsp.stat(file)).mode & 0o777;
const exists = (file: string) => fsp.access(file).then(() => true, () => false);
const listAside = async (suffix: string) => (await fsp.readdir(base)).filter((f) => f.includes(suffix)).sort();

describe('account show', () => {
  it('shows the URL, thumbprint and key type from the store, and status and contact from the CA', async () => {
    const { key, url, opts } = await registered({ [OTHER]: 'https://other-ca.test/acct/9' });
    const view = await showAccount(opts);
    expect(view).toEqual({
      directoryUrl: DIR,
      url,
      thumbprint: keyThumbprint(key),
      keyType: 'ecdsa-p256',
      status: 'valid',
      contact: ['mailto:ops@example.com'],
      urls: { [OTHER]: 'https://other-ca.test/acct/9' },
    });
  });

  it('without any account key: ACME_ACCOUNT naming the folder', async () => {
    const ca = fakeAccountCa();
    const store = createFolderStore(base);
    const err = await failure(showAccount({ directoryUrl: DIR, store, clients: ca.factory, folder: base, log }));
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain(`no ACME account in ${base}`);
    expect(ca.calls).toEqual([]);
  });
});

describe('account key rollover', () => {
  it('switches the key at the CA and in the folder, keeps the URL, and keeps the old key aside (0600)', async () => {
    const { ca, store, key, url, opts, pendingKeyFile } = await registered();
    const result = await rolloverAccountKey(opts);

    expect(result.url).toBe(url);
    expect(result.oldThumbprint).toBe(keyThumbprint(key));
    expect(result.thumbprint).not.toBe(result.oldThumbprint);
    const now = (await store.readAccount())!;
    expect(keyThumbprint(now.key)).toBe(result.thumbprint);
    expect(now.urls).toEqual({ [DIR]: url });
    expect(ca.urlOf(now.key)).toBe(url);
    expect(ca.urlOf(key)).toBeUndefined();
    expect(result.keptAs).toBe('.acme.old-20260304T050607.089Z');
    expect(sameKey(await fsp.readFile(path.join(base, result.keptAs!), 'utf8'), key)).toBe(true);
    expect(await mode(path.join(base, result.keptAs!))).toBe(0o600);
    expect(await mode(path.join(base, '.acme'))).toBe(0o600);
    expect(await exists(pendingKeyFile)).toBe(false);
  });

  it('keeps the new key pending (0600) when the CA cannot be reached, and sets it aside next time: the CA never took it', async () => {
    const { ca, store, key, url, opts, pendingKeyFile } = await registered();
    ca.failNextKeyChange('unreachable');
    const err = await failure(rolloverAccountKey(opts));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(pendingKeyFile);
    expect(await mode(pendingKeyFile)).toBe(0o600);
    const pending = await fsp.readFile(pendingKeyFile, 'utf8');
    expect(sameKey((await store.readAccount())!.key, key)).toBe(true);

    const result = await rolloverAccountKey(opts);
    // The unused pending key is kept aside, never deleted; a fresh key was rolled over to.
    const [aside] = await listAside('.next.unused-');
    expect(sameKey(await fsp.readFile(path.join(base, aside!), 'utf8'), pending)).toBe(true);
    expect(result.thumbprint).not.toBe(keyThumbprint(pending));
    expect(ca.urlOf((await store.readAccount())!.key)).toBe(url);
  });

  it('finishes the switch on the next call when the CA took the new key but its answer was lost', async () => {
    const { ca, store, key, url, opts, pendingKeyFile } = await registered();
    ca.failNextKeyChange('answer-lost');
    await failure(rolloverAccountKey(opts));
    const pending = await fsp.readFile(pendingKeyFile, 'utf8');
    expect(ca.urlOf(pending)).toBe(url);

    // Any account operation resolves it first; show does it here.
    const view = await showAccount(opts);
    expect(view.thumbprint).toBe(keyThumbprint(pending));
    expect(view.url).toBe(url);
    expect(view.status).toBe('valid');
    expect(await exists(pendingKeyFile)).toBe(false);
    const [aside] = await listAside('.acme.old-');
    expect(sameKey(await fsp.readFile(path.join(base, aside!), 'utf8'), key)).toBe(true);
    expect(sameKey((await store.readAccount())!.key, pending)).toBe(true);
  });

  it('finishes the switch when the CA took the new key and the store write failed', async () => {
    const { ca, store, key, url, opts, pendingKeyFile } = await registered();
    let failWrite = true;
    const flaky: CertStore = {
      ...store,
      async rotateAccount(from, to, why) {
        if (failWrite) {
          failWrite = false;
          throw new WhisperError('STORE_WRITE', 'disk full', { retryable: true });
        }
        return store.rotateAccount!(from, to, why);
      },
    };
    const err = await failure(rolloverAccountKey({ ...opts, store: flaky }));
    expect(err.code).toBe('STORE_WRITE');
    const pending = await fsp.readFile(pendingKeyFile, 'utf8');
    expect(ca.urlOf(pending)).toBe(url);
    expect(sameKey((await store.readAccount())!.key, key)).toBe(true);

    expect(await finishPendingRollover({ ...opts, store: flaky })).toBe('finished');
    const now = (await store.readAccount())!;
    expect(sameKey(now.key, pending)).toBe(true);
    expect(now.urls).toEqual({ [DIR]: url });
    expect(await exists(pendingKeyFile)).toBe(false);
    expect(await listAside('.acme.old-')).toHaveLength(1);
    // Nothing left: a second look finds nothing pending.
    expect(await finishPendingRollover(opts)).toBe('none');
  });

  it('drops the URLs of other CAs from the store (they belong to the old key, kept aside with it)', async () => {
    const { store, opts } = await registered({ [OTHER]: 'https://other-ca.test/acct/9' });
    const result = await rolloverAccountKey(opts);
    expect(Object.keys((await store.readAccount())!.urls)).toEqual([DIR]);
    const urlsAside = JSON.parse(await fsp.readFile(path.join(base, '.acme.json.old-20260304T050607.089Z'), 'utf8')) as { urls: object };
    expect(urlsAside.urls).toHaveProperty(OTHER);
    expect(result.keptAs).toBeDefined();
  });

  it('keeps the type of the old key unless told', async () => {
    const { store, opts } = await registered();
    await rolloverAccountKey(opts);
    expect((await showAccount(opts)).keyType).toBe('ecdsa-p256');
    await rolloverAccountKey({ ...opts, keyType: 'rsa2048' });
    expect((await showAccount(opts)).keyType).toBe('rsa-2048');
    expect(await listAside('.acme.old-')).toHaveLength(2);
    expect(await store.readAccount()).toBeDefined();
  });
});

describe('account deactivation', () => {
  it('is refused without confirm, and nothing is asked of the CA', async () => {
    const { ca, opts } = await registered();
    const err = await failure(deactivateAccount(opts));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('--yes');
    expect(ca.calls).toEqual([]);
  });

  it('deactivates at the CA, keeps the key aside and leaves a fresh unregistered key; safe to repeat after a crash', async () => {
    const { ca, store, key, url, opts } = await registered();
    const result = await deactivateAccount({ ...opts, confirm: true });
    expect(result.url).toBe(url);
    expect(ca.statusOf(url)).toBe('deactivated');
    expect(result.keptAs).toBe('.acme.deactivated-20260304T050607.089Z');
    expect(sameKey(await fsp.readFile(path.join(base, result.keptAs!), 'utf8'), key)).toBe(true);
    const now = (await store.readAccount())!;
    expect(now.urls).toEqual({});
    expect(keyThumbprint(now.key)).toBe(result.thumbprint);
    expect(ca.urlOf(now.key)).toBeUndefined();

    // A crash after the CA's answer: the folder still holds the deactivated key; a second run only retires it.
    await fsp.rm(path.join(base, '.acme'));
    await fsp.copyFile(path.join(base, result.keptAs!), path.join(base, '.acme'));
    await fsp.rm(path.join(base, '.acme.json'));
    await fsp.copyFile(path.join(base, '.acme.json.deactivated-20260304T050607.089Z'), path.join(base, '.acme.json'));
    const again = await deactivateAccount({ ...opts, confirm: true });
    expect(again.url).toBe(url);
    expect((await store.readAccount())!.urls).toEqual({});
  });
});

describe('the folder store: deliberate replacement of the account key', () => {
  it('replaces a key file the user gave (-a) in place, keeping the old one aside beside it', async () => {
    const ca = fakeAccountCa();
    const keyFile = path.join(base, 'keys', 'account.pem');
    const store = createFolderStore(path.join(base, 'certs'), { accountKeyFile: keyFile });
    const key = makeKey().pem;
    const url = ca.register(key);
    await store.writeAccount({ key, urls: { [DIR]: url } });
    const result = await rolloverAccountKey({ directoryUrl: DIR, store, clients: ca.factory, pendingKeyFile: `${keyFile}.next`, log });
    expect(keyThumbprint(await fsp.readFile(keyFile, 'utf8'))).toBe(result.thumbprint);
    expect(sameKey(await fsp.readFile(path.join(base, 'keys', result.keptAs!), 'utf8'), key)).toBe(true);
    expect((await store.readAccount())!.urls).toEqual({ [DIR]: url });
  });

  it('refuses to replace a key file that holds neither the old nor the new key', async () => {
    const store = createFolderStore(base);
    const mine = makeKey().pem;
    await store.writeAccount({ key: mine, urls: {} });
    const err = await failure(store.rotateAccount!({ key: makeKey().pem, urls: {} }, { key: makeKey().pem, urls: {} }, 'old'));
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(sameKey((await store.readAccount())!.key, mine)).toBe(true);
    expect(await listAside('.old-')).toEqual([]);
  });
});
