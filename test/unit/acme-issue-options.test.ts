import { describe, it, expect } from 'vitest';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { createAcmeIssuer, type AcmeIssuerOptions } from '../../src/acme/issuer.js';
import type { ChallengeCleanup } from '../../src/acme/cleanup.js';
import type { DnsProvider, TxtRecord } from '../../src/dns/provider.js';
import type { Http01Solver } from '../../src/http01/solver.js';
import { createLogger } from '../../src/log.js';
import type { WantedCert } from '../../src/plan/types.js';
import { makeKey } from './store/x509-fixture.js';
import { fakeCa, memoryStore, type FakeCaOptions } from './acme/fake-ca.js';
import { failure } from './failure.js';

const DIR = 'https://ca.test/directory';
const ACCT = 'https://ca.test/acct/1';
/** A base64url token per identifier, as a CA sends it. */
const tokenOf = (id: string) => `tok_${Buffer.from(id).toString('base64url')}`;
const http01Offered = (id: string) => [{ type: 'http-01', url: `https://ca.test/http/${id}`, token: tokenOf(id), status: 'pending' }];

function wanted(names: string[]): WantedCert {
  return { id: names[0] ?? 'x', kind: 'single', zone: 'example.com', names: [...names].sort(), services: ['web'] };
}

function recordingDns(name: string) {
  const presented: TxtRecord[][] = [];
  const cleaned: TxtRecord[][] = [];
  const dns: DnsProvider = {
    name,
    present: async (records) => void presented.push([...records]),
    cleanUp: async (records) => void cleaned.push([...records]),
  };
  return { dns, presented, cleaned };
}

function recordingSolver(failPresent = false) {
  const live = new Map<string, string>();
  const events: string[] = [];
  const solver: Http01Solver = {
    name: 'test',
    async present(token, keyAuthorization) {
      events.push(`present ${token}`);
      if (failPresent) throw new Error('disk full');
      live.set(token, keyAuthorization);
    },
    async cleanUp(token) {
      events.push(`cleanUp ${token}`);
      live.delete(token);
    },
  };
  return { solver, live, events };
}

function setup(ca: FakeCaOptions, extra: Partial<AcmeIssuerOptions> = {}) {
  const fake = fakeCa(ca);
  const mem = memoryStore({ key: makeKey().pem, urls: { [DIR]: ACCT } });
  const main = recordingDns('main');
  const mainCleaned: TxtRecord[][] = [];
  const propagatedWith: string[] = [];
  const lines: string[] = [];
  const issuer = createAcmeIssuer({
    directoryUrl: DIR,
    store: mem.store,
    dns: main.dns,
    cleanup: { remove: async (_id: string, records: readonly TxtRecord[]) => void mainCleaned.push([...records]), flush: async () => undefined },
    propagate: async (_records, _signal, dns) => void propagatedWith.push(dns?.name ?? 'none'),
    clients: fake.factory,
    log: createLogger({ debug: true, destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) }),
    sleep: async () => undefined,
    pollIntervalMs: 10,
    pollTimeoutMs: 1000,
    ...extra,
  });
  return { issuer, fake, main, mainCleaned, propagatedWith, lines };
}

describe('IssueOptions.challenge http-01', () => {
  it('presents every token before answering, answers http-01, and removes the tokens after', async () => {
    const http = recordingSolver();
    let liveAtAnswer = 0;
    const t = setup({ extraChallenges: http01Offered, before: (m) => { if (m === 'completeChallenge') liveAtAnswer = http.live.size; } }, { http01: http.solver });
    const bundle = await t.issuer.issue(wanted(['www.example.com', 'api.example.com']), { challenge: 'http-01' });
    expect(t.fake.answeredWith()).toEqual({ 'api.example.com': 'http-01', 'www.example.com': 'http-01' });
    expect(liveAtAnswer).toBe(2);
    expect(http.live.size).toBe(0);
    expect(http.events.filter((e) => e.startsWith('cleanUp')).sort()).toEqual([`cleanUp ${tokenOf('api.example.com')}`, `cleanUp ${tokenOf('www.example.com')}`]);
    expect(t.main.presented).toEqual([]);
    expect(t.propagatedWith).toEqual([]);
    expect(new X509Certificate(bundle.cert).subjectAltName).toContain('www.example.com');
    // The key authorization (`txt-<token>` in the fake) is never logged.
    expect(t.lines.join('')).not.toContain(`txt-${tokenOf('www.example.com')}`);
  });

  it('is the issuer\'s default with challenge http-01, and an order may still ask dns-01', async () => {
    const http = recordingSolver();
    const t = setup({ extraChallenges: http01Offered }, { http01: http.solver, challenge: 'http-01' });
    await t.issuer.issue(wanted(['www.example.com']));
    expect(t.fake.answeredWith()).toEqual({ 'www.example.com': 'http-01' });
    const u = setup({ extraChallenges: http01Offered }, { http01: http.solver, challenge: 'http-01' });
    await u.issuer.issue(wanted(['www.example.com']), { challenge: 'dns-01' });
    expect(u.fake.answeredWith()).toEqual({ 'www.example.com': 'dns-01' });
    expect(u.main.presented).toHaveLength(1);
  });

  it('removes the tokens when validation fails', async () => {
    const http = recordingSolver();
    const t = setup({ extraChallenges: http01Offered, invalid: { 'www.example.com': { type: 'urn:ietf:params:acme:error:unauthorized', detail: '404 from 127.0.0.1' } } }, { http01: http.solver });
    const err = await failure(t.issuer.issue(wanted(['www.example.com']), { challenge: 'http-01' }));
    expect(err.code).toBe('ACME_ORDER');
    expect(http.events).toEqual([`present ${tokenOf('www.example.com')}`, `cleanUp ${tokenOf('www.example.com')}`]);
  });

  it('removes the tokens when the order is aborted mid-way, and when presenting fails (HTTP01, retryable)', async () => {
    const http = recordingSolver();
    const controller = new AbortController();
    const t = setup({ extraChallenges: http01Offered, before: (m) => { if (m === 'completeChallenge') controller.abort(); } }, { http01: http.solver });
    const err = await failure(t.issuer.issue(wanted(['www.example.com']), { challenge: 'http-01', signal: controller.signal }));
    expect(err.code).toBe('ABORTED');
    expect(http.live.size).toBe(0);
    expect(http.events.at(-1)).toBe(`cleanUp ${tokenOf('www.example.com')}`);

    const broken = recordingSolver(true);
    const u = setup({ extraChallenges: http01Offered }, { http01: broken.solver });
    const err2 = await failure(u.issuer.issue(wanted(['www.example.com']), { challenge: 'http-01' }));
    expect(err2.code).toBe('HTTP01');
    expect(err2.retryable).toBe(true);
    expect(broken.events).toEqual([`present ${tokenOf('www.example.com')}`, `cleanUp ${tokenOf('www.example.com')}`]);
    expect(u.fake.calls).not.toContain('completeChallenge');
  });

  it('refuses a wildcard name, naming it, before any order', async () => {
    const t = setup({ extraChallenges: http01Offered }, { http01: recordingSolver().solver });
    const err = await failure(t.issuer.issue(wanted(['*.example.com', 'example.com']), { challenge: 'http-01' }));
    expect(err.code).toBe('ACME_ORDER');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('*.example.com');
    expect(err.message).toContain('wildcard');
    expect(t.fake.calls).not.toContain('createOrder');
  });

  it('fails clearly when the CA offers no http-01 for a name, presenting nothing', async () => {
    const http = recordingSolver();
    const t = setup({}, { http01: http.solver });
    const err = await failure(t.issuer.issue(wanted(['www.example.com']), { challenge: 'http-01' }));
    expect(err.code).toBe('ACME_ORDER');
    expect(err.message).toContain('the CA offers no http-01 challenge for www.example.com');
    expect(http.events).toEqual([]);
    expect(t.fake.deactivated).toEqual(['www.example.com']);
  });

  it('fails with CONFIG_INVALID without a solver', async () => {
    const t = setup({ extraChallenges: http01Offered });
    const err = await failure(t.issuer.issue(wanted(['www.example.com']), { challenge: 'http-01' }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('--http01-listen');
  });
});

describe('IssueOptions.dns', () => {
  it('publishes on the order\'s back end, propagates with it, and cleans up through cleanupFor', async () => {
    const other = recordingDns('named');
    const removed: Array<{ by: string; records: TxtRecord[] }> = [];
    const cleanupFor = (dns: DnsProvider): ChallengeCleanup => ({
      remove: async (_id, records) => void removed.push({ by: dns.name, records: [...records] }),
      flush: async () => undefined,
    });
    const t = setup({}, { cleanupFor });
    await t.issuer.issue(wanted(['www.example.com']), { dns: other.dns });
    expect(other.presented).toHaveLength(1);
    expect(other.presented[0]?.[0]?.fqdn).toBe('_acme-challenge.www.example.com');
    expect(t.main.presented).toEqual([]);
    expect(t.propagatedWith).toEqual(['named']);
    expect(removed.map((r) => r.by)).toEqual(['named']);
    expect(t.mainCleaned).toEqual([]);
    // The issuer's own back end for an order without one.
    await setup({}, { cleanupFor }).issuer.issue(wanted(['www.example.com']));
  });

  it("journals the order's records in its back end's journal (that clean-up's), not the issuer's", async () => {
    const other = recordingDns('named');
    const journaled = { main: [] as string[], named: [] as string[] };
    const journal = (into: string[]) => ({
      add: async (records: readonly TxtRecord[]) => void into.push(...records.map((r) => `+${r.fqdn}`)),
      remove: async (records: readonly TxtRecord[]) => void into.push(...records.map((r) => `-${r.fqdn}`)),
      pending: async () => [],
      flush: async () => undefined,
    });
    const namedJournal = journal(journaled.named);
    const cleanupFor = (): ChallengeCleanup => ({
      journal: namedJournal as never,
      remove: async (_id, records) => namedJournal.remove(records),
      flush: async () => undefined,
    });
    const t = setup({}, { cleanupFor, journal: journal(journaled.main) as never });
    await t.issuer.issue(wanted(['www.example.com']), { dns: other.dns });
    expect(journaled.named).toEqual(['+_acme-challenge.www.example.com', '-_acme-challenge.www.example.com']);
    expect(journaled.main).toEqual([]);
  });

  it('removes the records on the order\'s back end by default', async () => {
    const other = recordingDns('named');
    const t = setup({});
    await t.issuer.issue(wanted(['www.example.com']), { dns: other.dns });
    expect(other.cleaned).toEqual(other.presented);
    expect(t.mainCleaned).toEqual([]);
  });
});

describe('IssueOptions.keyType and key', () => {
  it('makes a fresh key of the order\'s type', async () => {
    const t = setup({}, { keyType: 'ecdsa-p256' });
    const bundle = await t.issuer.issue(wanted(['www.example.com']), { keyType: 'rsa2048' });
    expect(createPrivateKey(bundle.key).asymmetricKeyType).toBe('rsa');
    expect(new X509Certificate(bundle.cert).checkPrivateKey(createPrivateKey(bundle.key))).toBe(true);
  });

  it('reuses a pinned key: the CSR is signed with it and the bundle returns it', async () => {
    const pinned = makeKey('ec').pem;
    const t = setup({});
    const bundle = await t.issuer.issue(wanted(['www.example.com']), { key: pinned, keyType: 'rsa2048' });
    expect(bundle.key).toBe(pinned);
    expect(new X509Certificate(bundle.cert).checkPrivateKey(createPrivateKey(pinned))).toBe(true);
    const again = await setup({}).issuer.issue(wanted(['www.example.com']), { key: pinned });
    expect(again.key).toBe(pinned);
  });

  it('refuses a pinned key that does not parse, before any order, without the key in the message', async () => {
    const t = setup({});
    const err = await failure(t.issuer.issue(wanted(['www.example.com']), { key: '-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n' }));
    expect(err.code).toBe('STORE_CORRUPT');
    expect(err.message).not.toContain('c2VjcmV0');
    expect(t.fake.calls).not.toContain('createOrder');
  });
});
