import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createPublicKey, generateKeyPairSync, verify, type JsonWebKey } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAcmeIssuer } from '../../../src/acme/issuer.js';
import { WhisperError } from '../../../src/errors.js';
import type { DnsProvider } from '../../../src/dns/provider.js';
import { createFolderStore } from '../../../src/store/folder.js';
import type { AccountRecord } from '../../../src/store/types.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeCa, memoryStore, type FakeCaOptions } from './fake-ca.js';
import { failure } from '../failure.js';

const DIR = 'https://ca.test/directory';
const dns: DnsProvider = { name: 'none', present: async () => undefined, cleanUp: async () => undefined };
const DOES_NOT_EXIST = 'urn:ietf:params:acme:error:accountDoesNotExist';

/** The fake CA, knowing the account of a key only when `known` (else `accountDoesNotExist` to a lookup). */
function setup(initial: AccountRecord | undefined, opts: { email?: string; known?: boolean; ca?: FakeCaOptions } = {}) {
  const fake = fakeCa(opts.ca);
  const mem = memoryStore(initial);
  const requests: unknown[] = [];
  const factory: typeof fake.factory = (spec) => {
    const client = fake.factory(spec);
    return {
      ...client,
      createAccount: async (data) => {
        requests.push({ ...data });
        if (data?.onlyReturnExisting && !opts.known) {
          throw new WhisperError('ACME_ACCOUNT', `ACME account: the CA refused (HTTP 400) ${DOES_NOT_EXIST}: no account for this key`, {
            cause: { type: DOES_NOT_EXIST, detail: 'no account for this key', status: 400 },
          });
        }
        return client.createAccount(data);
      },
    };
  };
  const issuer = createAcmeIssuer({ directoryUrl: DIR, store: mem.store, dns, propagate: async () => undefined, clients: factory, ...(opts.email ? { email: opts.email } : {}) });
  return { issuer, fake, mem, requests };
}

describe('ACME account: an existing key is looked up before anything is registered', () => {
  it('an existing key without a URL for the directory: newAccount with onlyReturnExisting only, no e-mail needed', async () => {
    const key = makeKey().pem;
    const t = setup({ key, urls: {} }, { known: true });
    await t.issuer.ensureAccount();
    expect(t.requests).toEqual([{ onlyReturnExisting: true }]);
    expect(t.mem.account()).toEqual({ key, urls: { [DIR]: 'https://ca.test/acct/1' } });
  });

  it('registers it (terms, contact) only when the CA answers accountDoesNotExist', async () => {
    const key = makeKey().pem;
    const t = setup({ key, urls: {} }, { email: 'ops@example.com' });
    await t.issuer.ensureAccount();
    expect(t.requests).toEqual([{ onlyReturnExisting: true }, { termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] }]);
    expect(t.mem.account()).toEqual({ key, urls: { [DIR]: 'https://ca.test/acct/1' } });
  });

  it('accountDoesNotExist without ACME_REGISTER_EMAIL: ACME_ACCOUNT asking for it; nothing registered or saved', async () => {
    const key = makeKey().pem;
    const t = setup({ key, urls: {} });
    const err = await failure(t.issuer.ensureAccount());
    expect([err.code, err.retryable]).toEqual(['ACME_ACCOUNT', false]);
    expect(err.message).toContain('ACME_REGISTER_EMAIL');
    expect(err.message).toContain(DIR);
    expect(t.requests).toEqual([{ onlyReturnExisting: true }]);
    expect(t.mem.account()).toEqual({ key, urls: {} });
  });

  it('a key it just generated is registered directly, never looked up', async () => {
    const t = setup(undefined, { email: 'ops@example.com' });
    await t.issuer.ensureAccount();
    expect(t.requests).toEqual([{ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] }]);
  });

  it('when the CA no longer knows the saved URL, the key is looked up again first', async () => {
    const key = makeKey().pem;
    const lost = new WhisperError('ACME_ACCOUNT', 'certificate a.example.com: the CA refused (HTTP 400) accountDoesNotExist', {
      cause: { type: DOES_NOT_EXIST, detail: '' },
    });
    const t = setup({ key, urls: { [DIR]: 'https://ca.test/acct/old' } }, { known: true, ca: { failAt: { createOrder: { error: lost, times: 1 } } } });
    await t.issuer.issue({ id: 'a.example.com', kind: 'single', zone: 'example.com', names: ['a.example.com'], services: ['a'] });
    expect(t.requests).toEqual([{ onlyReturnExisting: true }]);
    expect(t.mem.account()?.urls[DIR]).toBe('https://ca.test/acct/1');
  });

  it('another refusal of the lookup is ACME_ACCOUNT; a transport error keeps its code and is retryable', async () => {
    const refused = new WhisperError('ACME_ORDER', 'ACME account: the CA refused (HTTP 400) urn:ietf:params:acme:error:malformed', {
      cause: { type: 'urn:ietf:params:acme:error:malformed', detail: '' },
    });
    const a = setup({ key: makeKey().pem, urls: {} }, { known: true, email: 'ops@example.com', ca: { failAt: { createAccount: { error: refused } } } });
    expect((await failure(a.issuer.ensureAccount())).code).toBe('ACME_ACCOUNT');
    expect(a.requests).toEqual([{ onlyReturnExisting: true }]);
    const down = new WhisperError('ACME_ORDER', 'ACME account: cannot reach the CA', { retryable: true });
    const b = setup({ key: makeKey().pem, urls: {} }, { known: true, email: 'ops@example.com', ca: { failAt: { createAccount: { error: down } } } });
    expect(await failure(b.issuer.ensureAccount())).toBe(down);
  });
});

/** A minimal ACME server (directory, nonces, newAccount) that checks every JWS signature with the key it carries. */
async function jwsCheckingCa() {
  const seen: Array<{ path: string; alg: string; verified: boolean; payload: unknown }> = [];
  const jwks = new Map<string, JsonWebKey>();
  let nonce = 0;
  const server: Server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'replay-nonce': `n${++nonce}`, ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    if (req.url === '/dir') return send(200, { newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order` });
    if (req.url === '/nonce') return send(200, undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const jws = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { protected: string; payload: string; signature: string };
      const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString('utf8')) as { alg: string; jwk?: JsonWebKey; kid?: string };
      const jwk = header.jwk ?? jwks.get(header.kid ?? '');
      const verified =
        jwk !== undefined &&
        verify('sha256', Buffer.from(`${jws.protected}.${jws.payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(jws.signature, 'base64url'));
      const payload: unknown = jws.payload === '' ? null : JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8'));
      seen.push({ path: req.url ?? '', alg: header.alg, verified, payload });
      if (!verified) return send(400, { type: 'urn:ietf:params:acme:error:malformed', detail: 'bad signature' });
      if (req.url === '/acct') {
        jwks.set(`${base}/acct/1`, jwk);
        return send(200, { status: 'valid' }, { location: `${base}/acct/1` });
      }
      return send(200, { status: 'valid' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('whisper\'s account key (PKCS#1 RSA PEM) with acme-client', () => {
  let base: string;
  beforeEach(async () => {
    base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-pkcs1-'));
  });
  afterEach(async () => {
    await fsp.rm(base, { recursive: true, force: true });
  });

  it('signs RS256 with ~/.acme as it is, finds the account, saves its URL in the folder, never touches the key', async () => {
    const ca = await jwsCheckingCa();
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      const home = path.join(base, 'home');
      await fsp.mkdir(home);
      const keyFile = path.join(home, '.acme');
      await fsp.writeFile(keyFile, pkcs1);
      await fsp.chmod(keyFile, 0o644);
      const before = await fsp.stat(keyFile);
      const folder = path.join(base, 'certs');
      const store = createFolderStore(folder, { homeDir: home });
      const issuer = createAcmeIssuer({ directoryUrl: `${ca.url}/dir`, store, dns, propagate: async () => undefined });
      await issuer.ensureAccount();

      expect(ca.seen[0]).toEqual({ path: '/acct', alg: 'RS256', verified: true, payload: { onlyReturnExisting: true } });
      expect(ca.seen.every((r) => r.verified && r.alg === 'RS256')).toBe(true);
      expect(await store.readAccount()).toEqual({ key: pkcs1, urls: { [`${ca.url}/dir`]: `${ca.url}/acct/1` } });
      const after = await fsp.stat(keyFile);
      expect(await fsp.readFile(keyFile, 'utf8')).toBe(pkcs1);
      expect([after.mode & 0o777, after.mtimeMs, after.ino]).toEqual([0o644, before.mtimeMs, before.ino]);
      expect(await fsp.readdir(folder)).toEqual(['.acme.json']);
    } finally {
      await ca.close();
    }
  });
});
