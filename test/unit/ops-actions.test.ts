import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RateBudget } from '../../src/limits/budget.js';
import { parseRateLimits } from '../../src/limits/config.js';
import { silentLogger } from '../../src/log.js';
import { requestRenewal, revokeStored, type ActionDeps } from '../../src/ops/actions.js';
import { importCertificates, importedEntries, type ImportDeps } from '../../src/ops/import.js';
import { certificateViews, keyTypeOf, limitsView } from '../../src/ops/views.js';
import type { HistoryEvent } from '../../src/history/types.js';
import type { WantedCert } from '../../src/plan/types.js';
import { StateKeeper } from '../../src/state/keeper.js';
import { emptyState } from '../../src/state/types.js';
import { createFolderStore } from '../../src/store/folder.js';
import type { CertStore } from '../../src/store/types.js';
import { makeBundle } from './store/x509-fixture.js';
import { OPENSSL_SMALL_SERIAL } from './acme/ari-fixtures.js';
import { ariCertId } from '../../src/acme/ari.js';

const NOW = Date.parse('2026-02-01T00:00:00Z');
const www: WantedCert = { id: 'www.example.com', kind: 'single', zone: 'example.com', names: ['www.example.com'], services: ['web'] };

let dir: string;
let store: CertStore;
let state: StateKeeper;
let events: HistoryEvent[];
let runs: Array<{ id: string; reason: string; urgent: boolean }>;
let revoked: Array<{ pem: string; reason: string }>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-ops-'));
  store = createFolderStore(dir);
  state = new StateKeeper(dir, emptyState(), silentLogger());
  events = [];
  runs = [];
  revoked = [];
});
afterEach(async () => {
  await state.flush();
  await rm(dir, { recursive: true, force: true });
});

function deps(over: Partial<ActionDeps> = {}): ActionDeps {
  return {
    state,
    budget: new RateBudget({ limits: parseRateLimits('letsencrypt') }),
    store,
    find: (id) => (id === www.id ? www : undefined),
    run: (cert, reason, urgent) => {
      runs.push({ id: cert.id, reason, urgent });
      return Promise.resolve();
    },
    revoke: (pem, reason) => {
      revoked.push({ pem, reason });
      return Promise.resolve();
    },
    record: (e) => void events.push({ at: new Date(NOW), ...e }),
    now: () => NOW,
    ...over,
  };
}

describe('requestRenewal', () => {
  it('records the request in the state and the history, and runs the job now', async () => {
    const result = await requestRenewal(deps(), www.id, { force: true, by: 'dashboard' });
    expect(result).toEqual({ id: www.id, runsAt: new Date(NOW).toISOString(), message: 'renewal of www.example.com queued: runs now' });
    expect(state.cert(www.id).renewRequested).toEqual({ at: new Date(NOW), by: 'dashboard' });
    expect(runs).toEqual([{ id: www.id, reason: 'requested', urgent: true }]);
    expect(events).toMatchObject([{ kind: 'renew-requested', cert: www.id, by: 'dashboard', reason: 'forced', until: new Date(NOW) }]);
  });

  it('says when the budget lets it run, and which bucket holds it back; the request stays recorded', async () => {
    const budget = new RateBudget({ limits: parseRateLimits('letsencrypt') });
    for (let i = 0; i < 5; i++) budget.recordOrder({ names: www.names }, NOW - 1000 * (i + 1));
    const result = await requestRenewal(deps({ budget }), www.id, { force: true, by: 'api' });
    expect(result.deferredBy).toMatchObject({ bucket: 'exactSet' });
    expect(Date.parse(result.runsAt)).toBeGreaterThan(NOW);
    expect(result.message).toContain('deferred until');
    expect(runs).toEqual([{ id: www.id, reason: 'requested', urgent: false }]);
    expect(state.cert(www.id).renewRequested).toBeDefined();
  });

  it('only checks without force, and refuses a certificate nobody wants, saying why', async () => {
    await requestRenewal(deps(), www.id, { force: false, by: 'cli' });
    expect(state.cert(www.id).renewRequested).toBeUndefined();
    expect(runs[0]).toMatchObject({ reason: 'checked' });
    await expect(requestRenewal(deps(), 'nope.example.com', { force: true, by: 'api' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('neither wanted') });
    const b = makeBundle(['old.example.com']);
    await store.write('old.example.com', b);
    await expect(requestRenewal(deps(), 'old.example.com', { force: true, by: 'api' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no source asks for it') });
  });
});

describe('revokeStored', () => {
  it('revokes the file\'s certificate, never `replaces` it, and forces its replacement', async () => {
    // A certificate with an authority key identifier (ARI's certID needs one), as CAs issue them.
    const pem = OPENSSL_SMALL_SERIAL.pem;
    const file = { id: www.id, path: join(dir, 'www.example.com.pem'), names: www.names, notBefore: new Date(NOW), notAfter: new Date(NOW + 1), serial: OPENSSL_SMALL_SERIAL.serial, issuer: 'CN=CA', cert: pem };
    const withFile = { ...store, read: (id: string) => Promise.resolve(id === www.id ? file : undefined) };
    const result = await revokeStored(deps({ store: withFile }), www.id, { reason: 'keyCompromise', by: 'api' });
    expect(revoked).toEqual([{ pem, reason: 'keyCompromise' }]);
    expect(result).toMatchObject({ id: www.id, serial: OPENSSL_SMALL_SERIAL.serial, reason: 'keyCompromise', replacement: { runsAt: new Date(NOW).toISOString() } });
    expect(state.cert(www.id)).toMatchObject({ replacesRefused: ariCertId(pem), renewRequested: { by: 'api' } });
    expect(events.map((e) => e.kind)).toEqual(['revoked', 'renew-requested']);
  });

  it('refuses an unknown reason and a certificate without a file', async () => {
    await expect(revokeStored(deps(), www.id, { reason: 'bored' as never, by: 'api' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(revokeStored(deps(), www.id, { reason: 'unspecified', by: 'api' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(revoked).toEqual([]);
  });
});

describe('importCertificates', () => {
  const importDeps = (over: Partial<ImportDeps> = {}): ImportDeps => ({ store, state, record: (e) => void events.push({ at: new Date(NOW), ...e }), now: () => NOW, allowDomains: [], allowWildcard: false, ...over });
  const pemOf = (b: { key: string; cert: string; chain: string }) => `${b.key}${b.cert}${b.chain}`;

  it('writes each certificate under the id its names give, marks it imported and wanted', async () => {
    const b = makeBundle(['example.org', 'www.example.org']);
    const written: string[] = [];
    const result = await importCertificates(importDeps({ written: (s) => void written.push(s.id) }), [{ name: 'site.pem', pem: pemOf(b) }], { by: 'cli' });
    expect(result).toEqual([{ id: 'example.org', file: 'example.org.pem', names: ['example.org', 'www.example.org'], serial: expect.any(String), notAfter: '2026-04-01T00:00:00.000Z' }]);
    expect((await stat(join(dir, 'example.org.pem'))).mode & 0o777).toBe(0o600);
    expect(importedEntries(state)).toEqual([['example.org', 'www.example.org']]);
    expect(state.cert('example.org').written).toBe(result[0]!.serial);
    expect(written).toEqual(['example.org']);
    expect(events).toMatchObject([{ kind: 'imported', cert: 'example.org', by: 'cli', reason: 'site.pem' }]);
  });

  it('writes nothing when one file is invalid, outside the allow-list, or older than the folder\'s', async () => {
    const good = makeBundle(['a.example.org']);
    await expect(importCertificates(importDeps(), [{ name: 'good.pem', pem: pemOf(good) }, { name: 'bad.pem', pem: 'garbage' }], { by: 'cli' }))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^bad\.pem: /) });
    await expect(importCertificates(importDeps({ allowDomains: ['example.com'] }), [{ name: 'good.pem', pem: pemOf(good) }], { by: 'cli' }))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('allow-list') });
    expect(await store.list()).toEqual([]);
    const newer = makeBundle(['a.example.org'], { notAfter: new Date('2026-05-01T00:00:00Z') });
    await store.write('a.example.org', newer);
    await expect(importCertificates(importDeps(), [{ name: 'good.pem', pem: pemOf(good) }], { by: 'cli' }))
      .rejects.toMatchObject({ message: expect.stringContaining('already holds a.example.org.pem') });
    expect(importedEntries(state)).toEqual([]);
  });
});

describe('views', () => {
  it('shows files and wanted certificates, why each renews when it does, and its key type', async () => {
    const b = makeBundle(['www.example.com'], { keyType: 'rsa' });
    await store.write(www.id, b);
    await store.write('gone.example.com', makeBundle(['gone.example.com']));
    const missing: WantedCert = { id: 'new.example.com', kind: 'single', zone: 'example.com', names: ['new.example.com'], services: ['api'] };
    state.setCert(www.id, () => ({ renewRequested: { at: new Date(NOW), by: 'api' } }));
    const views = certificateViews(await store.list(), [www, missing], state.state, NOW);
    expect(views.map((v) => [v.id, v.wanted, v.renewalReason])).toEqual([
      ['gone.example.com', false, 'not wanted: never renewed'],
      ['new.example.com', true, 'missing: ordered as soon as it can be'],
      ['www.example.com', true, 'requested by an operator'],
    ]);
    expect(views[2]).toMatchObject({ keyType: 'rsa2048', renewRequested: true, services: ['web'], file: 'www.example.com.pem', notAfter: '2026-04-01T00:00:00.000Z' });
    expect(views[1]).toMatchObject({ names: ['new.example.com'], issuer: '' });
    expect(views[0]).not.toHaveProperty('nextRenewal');
    expect(keyTypeOf(makeBundle(['x.example.com']).cert)).toBe('ecdsa-p256');
  });

  it('gives the next free slot of the spent buckets', () => {
    const at = new Date(NOW + 3_600_000);
    expect(limitsView([{ bucket: 'exactSet', key: 'k', remaining: 0, capacity: 5, nextTokenAt: at }, { bucket: 'newOrders', key: 'a', remaining: 3, capacity: 300, nextTokenAt: new Date(NOW) }]))
      .toMatchObject({ nextFreeAt: at.toISOString() });
    expect(limitsView([])).toEqual({ buckets: [] });
  });
});
