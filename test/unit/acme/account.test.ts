import { describe, it, expect } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { createAcmeIssuer } from '../../../src/acme/issuer.js';
import { WhisperError } from '../../../src/errors.js';
import type { DnsProvider } from '../../../src/dns/provider.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeCa, memoryStore } from './fake-ca.js';
import type { AccountRecord } from '../../../src/store/types.js';
import type { FakeCaOptions } from './fake-ca.js';
import { failure } from '../failure.js';

const DIR = 'https://ca.test/directory';
const dns: DnsProvider = { name: 'none', present: async () => undefined, cleanUp: async () => undefined };

function setup(initial?: AccountRecord, opts: { email?: string; eab?: { kid: string; hmacKey: string }; ca?: FakeCaOptions } = {}) {
  const fake = fakeCa(opts.ca);
  const mem = memoryStore(initial);
  // The store's writes and the CA's calls in one timeline.
  const timeline: string[] = [];
  const store = {
    ...mem.store,
    async writeAccount(record: AccountRecord) {
      timeline.push(`save(${Object.keys(record.urls).length} urls)`);
      await mem.store.writeAccount(record);
    },
  };
  const factory: typeof fake.factory = (spec) => {
    const client = fake.factory(spec);
    return {
      ...client,
      createAccount: async (data) => {
        timeline.push('register');
        return client.createAccount(data);
      },
    };
  };
  const issuer = createAcmeIssuer({
    directoryUrl: DIR,
    store,
    dns,
    propagate: async () => undefined,
    clients: factory,
    ...(opts.email ? { email: opts.email } : {}),
    ...(opts.eab ? { eab: opts.eab } : {}),
  });
  return { issuer, fake, mem, timeline };
}


describe('ACME account', () => {
  it('without a key and without an e-mail: ACME_ACCOUNT asking for ACME_REGISTER_EMAIL', async () => {
    const t = setup();
    const err = await failure(t.issuer.ensureAccount());
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain('ACME_REGISTER_EMAIL');
    expect(t.fake.calls).toEqual([]);
    expect(t.mem.account()).toBeUndefined();
  });

  it('creates an ECDSA P-256 key, saves it before registering, then saves the URL for the directory', async () => {
    const t = setup(undefined, { email: 'ops@example.com' });
    await t.issuer.ensureAccount();
    expect(t.timeline).toEqual(['save(0 urls)', 'register', 'save(1 urls)']);
    expect(t.fake.accounts).toEqual([{ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] }]);
    const saved = t.mem.account();
    expect(saved?.urls).toEqual({ [DIR]: 'https://ca.test/acct/1' });
    expect(createPrivateKey(saved?.key ?? '').asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(t.fake.specs[0]).toMatchObject({ directoryUrl: DIR, accountKey: saved?.key, what: 'ACME account' });
  });

  it('registers only once, also when asked concurrently', async () => {
    const t = setup(undefined, { email: 'ops@example.com' });
    await Promise.all([t.issuer.ensureAccount(), t.issuer.ensureAccount()]);
    await t.issuer.ensureAccount();
    expect(t.timeline.filter((e) => e === 'register')).toHaveLength(1);
  });

  it('uses a saved account URL without asking the CA', async () => {
    const key = makeKey().pem;
    const t = setup({ key, urls: { [DIR]: 'https://ca.test/acct/42' } });
    await t.issuer.ensureAccount();
    expect(t.timeline).toEqual([]);
    expect(t.fake.calls).toEqual([]);
  });

  it('looks up an existing key at a new directory, keeping the other URLs, even without an e-mail', async () => {
    const key = makeKey().pem;
    const t = setup({ key, urls: { 'https://other/dir': 'https://other/acct/1' } });
    await t.issuer.ensureAccount();
    expect(t.fake.accounts).toEqual([{ onlyReturnExisting: true }]);
    expect(t.mem.account()).toEqual({ key, urls: { 'https://other/dir': 'https://other/acct/1', [DIR]: 'https://ca.test/acct/1' } });
  });

  it('passes the External Account Binding to the client', async () => {
    const t = setup(undefined, { email: 'ops@example.com', eab: { kid: 'kid-1', hmacKey: 'c2VjcmV0' } });
    await t.issuer.ensureAccount();
    expect(t.fake.specs[0]?.eab).toEqual({ kid: 'kid-1', hmacKey: 'c2VjcmV0' });
  });

  it('turns a refused registration into ACME_ACCOUNT, and tries again on the next call', async () => {
    const refused = new WhisperError('ACME_ORDER', 'ACME account: the CA refused (HTTP 400) urn:ietf:params:acme:error:externalAccountRequired', {
      cause: { type: 'urn:ietf:params:acme:error:externalAccountRequired', detail: '' },
    });
    const t = setup(undefined, { email: 'ops@example.com', ca: { failAt: { createAccount: { error: refused, times: 1 } } } });
    const err = await failure(t.issuer.ensureAccount());
    expect([err.code, err.retryable]).toEqual(['ACME_ACCOUNT', false]);
    expect(err.message).toContain('externalAccountRequired');
    await t.issuer.ensureAccount();
    expect(t.mem.account()?.urls[DIR]).toBe('https://ca.test/acct/1');
  });

  it('keeps a retryable transport error as it is', async () => {
    const down = new WhisperError('ACME_ORDER', 'ACME account: cannot reach the CA', { retryable: true });
    const t = setup(undefined, { email: 'ops@example.com', ca: { failAt: { createAccount: { error: down } } } });
    expect(await failure(t.issuer.ensureAccount())).toBe(down);
  });

  it('uses the account a shared store kept when another instance saved one first, registering nothing', async () => {
    const winner = { key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/7' } };
    const t = setup(undefined, { email: 'ops@example.com' });
    // A store like Consul KV under --ha: the first account saved is kept, a later different key is not.
    const store = { ...t.mem.store, writeAccount: async () => void (await t.mem.store.writeAccount(winner)) };
    const issuer = createAcmeIssuer({ directoryUrl: DIR, store, dns, propagate: async () => undefined, clients: t.fake.factory, email: 'ops@example.com' });
    await issuer.ensureAccount();
    expect(t.fake.accounts).toEqual([]);
    expect(t.mem.account()).toEqual(winner);
  });
});
