import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAcmeIssuer } from '../../../src/acme/issuer.js';
import { createChallengeJournal, type ChallengeJournal } from '../../../src/acme/journal.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import type { WantedCert } from '../../../src/plan/types.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeCa, memoryStore, type FakeCaOptions } from './fake-ca.js';

const DIR = 'https://ca.test/directory';
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const cert: WantedCert = { id: 'multi-hosts.example.com', kind: 'multi', zone: 'example.com', names: ['api.example.com', 'www.example.com'], services: ['web'] };
const records = [
  { fqdn: '_acme-challenge.api.example.com', value: 'txt-token-api.example.com' },
  { fqdn: '_acme-challenge.www.example.com', value: 'txt-token-www.example.com' },
];

async function setup(ca: FakeCaOptions = {}, cleanUpFails = false) {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-issuer-journal-'));
  dirs.push(dir);
  const journal = createChallengeJournal(dir);
  // What the journal held when each DNS call started (a fresh reader: what a restart would see).
  const seen: Array<{ call: string; journal: TxtRecord[] }> = [];
  const dns: DnsProvider = {
    name: 'fake',
    async present() {
      seen.push({ call: 'present', journal: await createChallengeJournal(dir).pending() });
    },
    async cleanUp() {
      seen.push({ call: 'cleanUp', journal: await createChallengeJournal(dir).pending() });
      if (cleanUpFails) throw new Error('provider down');
    },
  };
  const fake = fakeCa(ca);
  const issuer = createAcmeIssuer({
    directoryUrl: DIR,
    store: memoryStore({ key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/1' } }).store,
    dns,
    journal,
    propagate: async () => undefined,
    clients: fake.factory,
    sleep: async () => undefined,
    pollIntervalMs: 100,
    pollTimeoutMs: 5000,
  });
  return { dir, journal, seen, issuer };
}

async function pendingAfterRestart(dir: string): Promise<TxtRecord[]> {
  return createChallengeJournal(dir).pending();
}

describe('ACME issuer with a challenge journal', () => {
  it('journals the records before publishing them and forgets them once removed', async () => {
    const t = await setup();
    await t.issuer.issue(cert);
    expect(t.seen).toEqual([
      { call: 'present', journal: records },
      { call: 'cleanUp', journal: records },
    ]);
    expect(await pendingAfterRestart(t.dir)).toEqual([]);
  });

  it('forgets them after a failed order too (the records were removed)', async () => {
    const t = await setup({ invalid: { 'www.example.com': { type: 'urn:ietf:params:acme:error:dns', detail: 'no TXT' } } });
    await expect(t.issuer.issue(cert)).rejects.toMatchObject({ code: 'ACME_ORDER' });
    expect(t.seen.map((s) => s.call)).toEqual(['present', 'cleanUp']);
    expect(await pendingAfterRestart(t.dir)).toEqual([]);
  });

  it('forgets them after an abort: the clean-up runs without the aborted signal', async () => {
    const controller = new AbortController();
    const t = await setup({ before: (m) => (m === 'completeChallenge' ? controller.abort(new Error('stop')) : undefined) });
    await expect(t.issuer.issue(cert, { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(t.seen.map((s) => s.call)).toEqual(['present', 'cleanUp']);
    expect(await pendingAfterRestart(t.dir)).toEqual([]);
  });

  it('keeps them in the journal when removing them failed, for the next start', async () => {
    const t = await setup({}, true);
    await t.issuer.issue(cert);
    expect(await pendingAfterRestart(t.dir)).toEqual(records);
  });

  it('fails the order before publishing anything when the journal cannot be written', async () => {
    const t = await setup();
    const broken: ChallengeJournal = { ...t.journal, add: () => Promise.reject(new Error('disk full')) };
    const events: string[] = [];
    const issuer = createAcmeIssuer({
      directoryUrl: DIR,
      store: memoryStore({ key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/1' } }).store,
      dns: { name: 'fake', present: async () => void events.push('present'), cleanUp: async () => void events.push('cleanUp') },
      journal: broken,
      propagate: async () => undefined,
      clients: fakeCa().factory,
      sleep: async () => undefined,
    });
    await expect(issuer.issue(cert)).rejects.toMatchObject({ code: 'STORE_WRITE' });
    expect(events).toEqual([]);
  });
});
