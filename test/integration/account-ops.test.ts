import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { X509Certificate, randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deactivateAccount, rolloverAccountKey, showAccount } from '../../src/acme/account-ops.js';
import { accountStore } from '../../src/acme/account-store.js';
import { createAcmeIssuer } from '../../src/acme/issuer.js';
import { generateKey } from '../../src/acme/keys.js';
import { hasProblemType } from '../../src/acme/problems.js';
import { revokeCertificate } from '../../src/acme/revoke.js';
import { createAcmeClientFactory } from '../../src/acme/transport.js';
import type { AcmeClientFactory } from '../../src/acme/types.js';
import { buildConfig } from '../../src/config.js';
import type { DnsProvider, TxtRecord } from '../../src/dns/provider.js';
import { accountKvKey, decodeAccount } from '../../src/ha/kv-account.js';
import { ENVELOPE_PREFIX, kvCodec } from '../../src/ha/kv-crypto.js';
import { silentLogger } from '../../src/log.js';
import { keyThumbprint, sameKey } from '../../src/store/account-key.js';
import { createFolderStore } from '../../src/store/folder.js';
import type { CertStore } from '../../src/store/types.js';
import '../support/env-types.js';

const env = inject('env');
// Not a Route53 or BIND test zone: the DNS front forwards it to challtestsrv.
const ZONE = 'acme.whisper.test';
const log = silentLogger();

async function manage(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${env.challtestsrv.managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`challtestsrv ${path} answered ${res.status}`);
}

const dns: DnsProvider = {
  name: 'challtestsrv',
  async present(records: readonly TxtRecord[]) {
    for (const r of records) await manage('/set-txt', { host: `${r.fqdn}.`, value: r.value });
  },
  async cleanUp(records: readonly TxtRecord[]) {
    for (const fqdn of new Set(records.map((r) => r.fqdn))) await manage('/clear-txt', { host: `${fqdn}.` });
  },
};

async function propagate(records: readonly TxtRecord[]): Promise<void> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([env.dnsFront.addr]);
  for (const r of records) {
    const values = (await resolver.resolveTxt(r.fqdn)).map((chunks) => chunks.join(''));
    if (!values.includes(r.value)) throw new Error(`TXT of ${r.fqdn} not visible on the DNS front`);
  }
}

/** GET on Pebble's management API (its own TLS CA). */
async function pebbleGet(path: string): Promise<{ status: number; body: string }> {
  const ca = await readFile(env.pebble.tlsCaFile, 'utf8');
  const agent = new Agent({ ca });
  return new Promise((resolve, reject) => {
    const req = request(`${env.pebble.managementUrl}${path}`, { agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Whether the CA still has an account for `key` (`newAccount` with `onlyReturnExisting`). */
async function caKnows(clients: AcmeClientFactory, key: string): Promise<string | 'accountDoesNotExist'> {
  const client = clients({ directoryUrl: env.pebble.directoryUrl, accountKey: key, what: 'test lookup' });
  try {
    await client.createAccount({ onlyReturnExisting: true });
    return client.getAccountUrl();
  } catch (err) {
    if (hasProblemType(err, 'accountDoesNotExist')) return 'accountDoesNotExist';
    throw err;
  }
}

async function issue(store: CertStore, caBundle: string, email?: string) {
  const issuer = createAcmeIssuer({ directoryUrl: env.pebble.directoryUrl, store, dns, propagate, caBundle, pollIntervalMs: 100, ...(email ? { email } : {}) });
  const name = `ops-${randomBytes(4).toString('hex')}.${ZONE}`;
  return issuer.issue({ id: name, kind: 'single', zone: ZONE, names: [name], services: ['web'] });
}

describe('ACME account operations against Pebble', () => {
  let dir: string;
  let caBundle: string;
  let clients: AcmeClientFactory;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whisper-account-ops-'));
    caBundle = await readFile(env.pebble.tlsCaFile, 'utf8');
    clients = createAcmeClientFactory({ caBundle });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('shows, revokes (idempotent), rolls the key over and deactivates the account', async () => {
    const folder = join(dir, 'plain');
    const store = createFolderStore(folder);
    const bundle = await issue(store, caBundle, 'ops@example.com');
    const first = (await store.readAccount())!;
    const url = first.urls[env.pebble.directoryUrl]!;
    const opts = { directoryUrl: env.pebble.directoryUrl, store, clients, folder, pendingKeyFile: join(folder, '.acme.next'), log };

    const view = await showAccount(opts);
    expect(view).toMatchObject({ url, status: 'valid', thumbprint: keyThumbprint(first.key), keyType: 'ecdsa-p256', contact: ['mailto:ops@example.com'] });

    // Revocation, checked through Pebble's management API; a second one is a no-op.
    await revokeCertificate({ directoryUrl: env.pebble.directoryUrl, store, clients, certPem: bundle.cert, reason: 'superseded', log });
    const serial = new X509Certificate(bundle.cert).serialNumber.toLowerCase();
    const status = await pebbleGet(`/cert-status-by-serial/${serial}`);
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ Status: 'Revoked' });
    await expect(revokeCertificate({ directoryUrl: env.pebble.directoryUrl, store, clients, certPem: bundle.cert, reason: 'superseded', log })).resolves.toBeUndefined();

    // Rollover: same URL, new thumbprint; the old key is unknown to the CA, the new one orders.
    const rolled = await rolloverAccountKey(opts);
    expect(rolled.url).toBe(url);
    expect(rolled.thumbprint).not.toBe(rolled.oldThumbprint);
    const second = (await store.readAccount())!;
    expect(keyThumbprint(second.key)).toBe(rolled.thumbprint);
    expect(await caKnows(clients, first.key)).toBe('accountDoesNotExist');
    expect(await caKnows(clients, second.key)).toBe(url);
    expect((await stat(join(folder, rolled.keptAs!))).mode & 0o777).toBe(0o600);
    expect(sameKey(await readFile(join(folder, rolled.keptAs!), 'utf8'), first.key)).toBe(true);
    expect(await readdir(folder)).not.toContain('.acme.next');
    const after = await issue(store, caBundle);
    expect(after.cert).toContain('BEGIN CERTIFICATE');
    expect((await showAccount(opts)).thumbprint).toBe(rolled.thumbprint);

    // Deactivation: refused without confirm; then the CA refuses the account, and a fresh key waits for registration.
    await expect(deactivateAccount(opts)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const gone = await deactivateAccount({ ...opts, confirm: true });
    expect(gone.url).toBe(url);
    const old = clients({ directoryUrl: env.pebble.directoryUrl, accountKey: second.key, accountUrl: url, what: 'test' });
    const refused = await old.createOrder({ identifiers: [{ type: 'dns', value: `x-${randomBytes(3).toString('hex')}.${ZONE}` }] }).catch((e: unknown) => e);
    expect(hasProblemType(refused, 'unauthorized')).toBe(true);
    const third = (await store.readAccount())!;
    expect(third.urls).toEqual({});
    expect(sameKey(await readFile(join(folder, gone.keptAs!), 'utf8'), second.key)).toBe(true);
    // A crash before the folder changed leaves the deactivated key in place: show says so, and a second run only
    // retires it.
    const crashedDir = join(dir, 'crashed');
    const crashed = createFolderStore(crashedDir);
    await crashed.writeAccount({ key: second.key, urls: { [env.pebble.directoryUrl]: url } });
    const crashedOpts = { ...opts, store: crashed, folder: crashedDir, pendingKeyFile: join(crashedDir, '.acme.next') };
    expect((await showAccount(crashedOpts)).status).toBe('deactivated');
    expect((await deactivateAccount({ ...crashedOpts, confirm: true })).url).toBe(url);
    expect((await crashed.readAccount())!.urls).toEqual({});
    // The next issuer registers a new account with the fresh key.
    const fresh = await issue(store, caBundle, 'ops@example.com');
    expect(fresh.cert).toContain('BEGIN CERTIFICATE');
    const registered = (await store.readAccount())!;
    expect(sameKey(registered.key, third.key)).toBe(true);
    expect(registered.urls[env.pebble.directoryUrl]).not.toBe(url);
  });

  it('under --ha, a rollover replaces the cluster account in Consul KV (encrypted) and the folder copy follows', async () => {
    const folder = join(dir, 'ha');
    const lockKey = `whisper-tests/account-ops-${randomBytes(4).toString('hex')}/leader`;
    const keyFile = join(dir, 'kv.key');
    await writeFile(keyFile, `k1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    // The folder's own key first, so that the runner's ~/.acme is never the one found.
    await createFolderStore(folder).writeAccount({ key: await generateKey('ecdsa-p256'), urls: {} });
    const raw = { ha: true, lockKey, consul: env.consul.httpAddr, directoryUrl: env.pebble.directoryUrl, caBundle: env.pebble.tlsCaFile, kvEncryptionKeyFile: keyFile, dnsProvider: 'none', challenge: 'dns-persist-01' };
    const config = buildConfig(folder, raw, { env: {}, cwd: dir });
    const built = await accountStore(config, log);
    try {
      await issue(built.store, caBundle, 'ops@example.com');
      const kvKey = accountKvKey(lockKey);
      const codec = kvCodec(config.kvEncryption?.keyring);
      const inKv = async () => {
        const res = await fetch(`http://${env.consul.httpAddr}/v1/kv/${kvKey}?raw`);
        const value = await res.text();
        expect(value.startsWith(ENVELOPE_PREFIX)).toBe(true);
        return decodeAccount(kvKey, codec.decode(kvKey, value));
      };
      const before = await inKv();
      const url = before.urls[env.pebble.directoryUrl]!;

      const rolled = await rolloverAccountKey({ directoryUrl: env.pebble.directoryUrl, store: built.store, clients, folder, pendingKeyFile: built.pendingKeyFile, log });
      expect(rolled.url).toBe(url);
      const shared = await inKv();
      expect(keyThumbprint(shared.key)).toBe(rolled.thumbprint);
      expect(shared.urls).toEqual({ [env.pebble.directoryUrl]: url });
      const local = await createFolderStore(folder).readAccount();
      expect(keyThumbprint(local!.key)).toBe(rolled.thumbprint);
      expect(sameKey(await readFile(join(folder, rolled.keptAs!), 'utf8'), before.key)).toBe(true);
      expect(await caKnows(clients, before.key)).toBe('accountDoesNotExist');
      expect(await caKnows(clients, shared.key)).toBe(url);
    } finally {
      built.close();
    }
  });
});
