import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { createAcmeIssuer, type AcmeIssuerOptions } from '../../../src/acme/issuer.js';
import type { ChallengeCleanup } from '../../../src/acme/cleanup.js';
import type { ChallengeJournal } from '../../../src/acme/journal.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import { createNoneProvider } from '../../../src/dns/none.js';
import { createLogger } from '../../../src/log.js';
import type { WantedCert } from '../../../src/plan/types.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeCa, memoryStore, type FakeCaOptions } from './fake-ca.js';
import { failure } from '../failure.js';

const DIR = 'https://ca.test/directory';
const ACCT = 'https://ca.test/acct/1';
const persistOffered = (id: string) => [
  { type: 'dns-account-01', url: `https://ca.test/acct-chall/${id}`, token: 'x', status: 'pending' },
  { type: 'dns-persist-01', url: `https://ca.test/persist/${id}`, status: 'pending', 'issuer-domain-names': ['ca.test'] },
  { type: 'something-new-07', url: `https://ca.test/new/${id}`, status: 'pending', extra: [1, 2] },
];

function wanted(names: string[]): WantedCert {
  return { id: names[0] ?? 'x', kind: 'single', zone: 'example.com', names: [...names].sort(), services: ['web'] };
}

function setup(ca: FakeCaOptions, extra: Partial<AcmeIssuerOptions> = {}) {
  const fake = fakeCa(ca);
  const mem = memoryStore({ key: makeKey().pem, urls: { [DIR]: ACCT } });
  const presented: TxtRecord[][] = [];
  const cleaned: TxtRecord[][] = [];
  const propagated: TxtRecord[][] = [];
  const journaled: TxtRecord[][] = [];
  const lines: string[] = [];
  const dns: DnsProvider = {
    name: 'fake',
    present: async (records) => void presented.push([...records]),
    cleanUp: async (records) => void cleaned.push([...records]),
  };
  const journal = { add: async (records: readonly TxtRecord[]) => void journaled.push([...records]) } as unknown as ChallengeJournal;
  const issuer = createAcmeIssuer({
    directoryUrl: DIR,
    store: mem.store,
    dns,
    journal,
    cleanup: { remove: async (_id: string, records: readonly TxtRecord[]) => void cleaned.push([...records]) } as unknown as ChallengeCleanup,
    propagate: async (records) => void propagated.push([...records]),
    clients: fake.factory,
    log: createLogger({ debug: true, destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) }),
    sleep: async () => undefined,
    pollIntervalMs: 10,
    pollTimeoutMs: 1000,
    ...extra,
  });
  return { issuer, fake, presented, cleaned, propagated, journaled, lines };
}

describe('ACME order with dns-persist-01', () => {
  it('writes one persistent record per name, never journals or cleans it up, and answers dns-persist-01', async () => {
    const t = setup({ extraChallenges: persistOffered }, { challenge: 'dns-persist-01' });
    await t.issuer.issue(wanted(['www.example.com', 'api.example.com']));
    const records = [
      { fqdn: '_validation-persist.api.example.com', value: `ca.test; accounturi=${ACCT}`, persistent: true },
      { fqdn: '_validation-persist.www.example.com', value: `ca.test; accounturi=${ACCT}`, persistent: true },
    ];
    expect(t.presented).toEqual([records]);
    expect(t.propagated).toEqual([records]);
    expect(t.journaled).toEqual([]);
    expect(t.cleaned).toEqual([]);
    expect(t.fake.answeredWith()).toEqual({ 'api.example.com': 'dns-persist-01', 'www.example.com': 'dns-persist-01' });
    expect(t.fake.calls).not.toContain('getChallengeKeyAuthorization');
  });

  it('changes no DNS when the records are already in place', async () => {
    const checked: TxtRecord[][] = [];
    const t = setup({ extraChallenges: persistOffered }, { challenge: 'dns-persist-01', missingRecords: async (r) => (checked.push([...r]), []) });
    await t.issuer.issue(wanted(['www.example.com']));
    expect(checked).toHaveLength(1);
    expect(t.presented).toEqual([]);
    expect(t.propagated).toEqual([]);
    expect(t.fake.answeredWith()).toEqual({ 'www.example.com': 'dns-persist-01' });
  });

  it('writes only the missing ones', async () => {
    const t = setup({ extraChallenges: persistOffered }, { challenge: 'dns-persist-01', missingRecords: async (r) => r.filter((x) => x.fqdn.includes('api')) });
    await t.issuer.issue(wanted(['www.example.com', 'api.example.com']));
    expect(t.presented.flat().map((r) => r.fqdn)).toEqual(['_validation-persist.api.example.com']);
  });

  it('falls back to dns-01 with one log line where the CA does not offer it', async () => {
    const t = setup({ extraChallenges: (id) => (id === 'www.example.com' ? [] : persistOffered(id)) }, { challenge: 'dns-persist-01' });
    await t.issuer.issue(wanted(['www.example.com', 'api.example.com']));
    expect(t.fake.answeredWith()).toEqual({ 'api.example.com': 'dns-persist-01', 'www.example.com': 'dns-01' });
    // Both kinds in one change; only the dns-01 record is journaled and cleaned up.
    expect(t.presented).toHaveLength(1);
    expect(t.presented[0]?.map((r) => r.fqdn)).toEqual(['_acme-challenge.www.example.com', '_validation-persist.api.example.com']);
    expect(t.journaled).toEqual([[{ fqdn: '_acme-challenge.www.example.com', value: 'txt-token-www.example.com' }]]);
    expect(t.cleaned).toEqual([[{ fqdn: '_acme-challenge.www.example.com', value: 'txt-token-www.example.com' }]]);
    const fallbacks = t.lines.filter((l) => l.includes('dns-persist-01 not usable'));
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toContain('www.example.com');
    expect(fallbacks[0]).not.toContain('txt-token');
  });

  it('answers dns-01 with the default --challenge, ignoring challenge types it does not know', async () => {
    const t = setup({ extraChallenges: persistOffered });
    await t.issuer.issue(wanted(['www.example.com']));
    expect(t.fake.answeredWith()).toEqual({ 'www.example.com': 'dns-01' });
    expect(t.presented).toEqual([[{ fqdn: '_acme-challenge.www.example.com', value: 'txt-token-www.example.com' }]]);
  });

  it('with --dns-provider none: a missing record fails, naming the record and value to create', async () => {
    const t = setup({ extraChallenges: persistOffered }, { challenge: 'dns-persist-01', dns: createNoneProvider() });
    const err = await failure(t.issuer.issue(wanted(['www.example.com'])));
    expect(err).toMatchObject({ code: 'DNS_PROVIDER', retryable: true });
    expect(err.message).toContain(`_validation-persist.www.example.com. TXT "ca.test; accounturi=${ACCT}"`);
  });

  it('with --dns-provider none: dns-01 fails clearly, without the challenge value', async () => {
    const t = setup({}, { challenge: 'dns-persist-01', dns: createNoneProvider() });
    const err = await failure(t.issuer.issue(wanted(['www.example.com'])));
    expect(err).toMatchObject({ code: 'DNS_PROVIDER' });
    expect(err.message).toContain('cannot publish dns-01 records (_acme-challenge.www.example.com)');
    expect(err.message).not.toContain('txt-token');
  });
});
