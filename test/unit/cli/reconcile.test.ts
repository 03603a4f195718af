import { describe, it, expect } from 'vitest';
import { Reconciler, orderReason } from '../../../src/reconcile.js';
import { silentLogger } from '../../../src/log.js';
import { WhisperError } from '../../../src/errors.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { CertBundle, CertStore, StoredCert } from '../../../src/store/types.js';
import type { Issuer } from '../../../src/acme/types.js';
import { RenewalManager } from '../../../src/lifecycle/manager.js';
import { RateBudget } from '../../../src/limits/budget.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState } from '../../../src/state/types.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 23);

function stored(id: string, names: string[], notBefore: number, notAfter: number): StoredCert {
  return { id, path: `/certs/${id}.pem`, names, notBefore: new Date(notBefore), notAfter: new Date(notAfter), serial: '01', issuer: 'CN=test', cert: '' };
}

function fakes(files: Record<string, StoredCert | Error> = {}) {
  const enqueued: Array<[string, string]> = [];
  const forgotten: string[] = [];
  const notified: string[][] = [];
  const issued: string[] = [];
  const store = {
    read: async (id: string) => {
      const f = files[id];
      if (f instanceof Error) throw f;
      return f;
    },
    list: async () => [],
    write: async (id: string, _b: CertBundle) => stored(id, ['x'], NOW, NOW + 90 * DAY),
    readAccount: async () => undefined,
    writeAccount: async () => undefined,
  } satisfies CertStore;
  const issuer = {
    ensureAccount: async () => undefined,
    issue: async (cert: WantedCert) => {
      issued.push(cert.id);
      return { key: 'k', cert: 'c', chain: '' };
    },
  } satisfies Issuer;
  const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
  const renewal = new RenewalManager({
    state, renewalInfoUrl: async () => undefined, fetch: async () => { throw new Error('no ARI here'); },
    enqueue: () => undefined, timers: { setTimeout: () => 0, clearTimeout: () => undefined },
    now: () => NOW, random: () => 0.5, log: silentLogger(),
  });
  const budget = new RateBudget();
  const r = new Reconciler({
    store, issuer, renewal, budget, state, log: silentLogger(), allowDomains: [], now: () => NOW,
    enqueue: (c, reason) => enqueued.push([c.id, reason]),
    forget: (id) => forgotten.push(id),
    notify: (f) => notified.push([...f]),
  });
  return { r, enqueued, forgotten, notified, issued, state, budget };
}

const svc = (name: string, tags: string[]) => ({ name, tags });
const catalog = (...services: Array<{ name: string; tags: string[] }>) => new Map(services.map((s) => [s.name, s.tags]));

describe('Reconciler.update', () => {
  it('queues new and changed certificates, forgets removed ones', () => {
    const { r, enqueued, forgotten } = fakes();
    r.update(catalog(svc('web', ['dns=example.com', 'ssl=on']), svc('a', ['dns=example.com', 'vhost=a', 'vhost=c', 'https=443'])), 'all');
    expect(enqueued).toEqual([['multi-hosts.example.com', 'start'], ['web.example.com', 'start']]);
    enqueued.length = 0;
    r.update(catalog(svc('a', ['dns=example.com', 'vhost=a', 'vhost=c', 'https=443']), svc('b', ['dns=example.com', 'vhost=b', 'https=443'])), new Set(['b', 'web']));
    expect(enqueued).toEqual([['multi-hosts.example.com', 'names changed']]);
    expect(forgotten).toEqual(['web.example.com']);
  });

  it('queues nothing when the plan did not change', () => {
    const { r, enqueued } = fakes();
    const services = [svc('web', ['dns=example.com', 'ssl=on'])];
    r.update(catalog(...services), 'all');
    r.update(catalog(...services, svc('other', ['unrelated'])), new Set(['other']));
    expect(enqueued).toHaveLength(1);
    void r.sweep();
    expect(enqueued.at(-1)).toEqual(['web.example.com', 'sweep']);
  });
});

describe('Reconciler.sweep', () => {
  it('drops the state of certificates neither wanted nor in the folder, and nothing before the first plan', async () => {
    const { r, state } = fakes();
    const store = (r as unknown as { deps: { store: CertStore } }).deps.store;
    store.list = async () => [stored('kept-file.example.com', ['kept-file.example.com'], NOW, NOW + DAY)];
    for (const id of ['web.example.com', 'kept-file.example.com', 'gone.example.com']) state.setCert(id, () => ({ ariChosen: true }));
    await r.sweep();
    expect(state.cert('gone.example.com')).toEqual({ ariChosen: true });
    r.update(catalog(svc('web', ['dns=example.com', 'ssl=on'])), 'all');
    await r.sweep();
    expect(state.cert('web.example.com')).toEqual({ ariChosen: true });
    expect(state.cert('kept-file.example.com')).toEqual({ ariChosen: true });
    expect(state.cert('gone.example.com')).toEqual({});
  });
});

describe('Reconciler.ensure', () => {
  const cert: WantedCert = { id: 'web.example.com', kind: 'single', zone: 'example.com', names: ['web.example.com'], services: ['web'] };

  it('orders nothing for a valid certificate with the same names', async () => {
    const { r, issued, notified } = fakes({ 'web.example.com': stored('web.example.com', ['web.example.com'], NOW - DAY, NOW + 80 * DAY) });
    await r.ensure(cert, new AbortController().signal);
    expect(issued).toEqual([]);
    expect(notified).toEqual([]);
  });

  it('orders, stores and notifies when missing, corrupt, for other names, or due', async () => {
    for (const file of [
      undefined,
      new WhisperError('STORE_CORRUPT', 'web.example.com.pem is not a certificate'),
      stored('web.example.com', ['old.example.com'], NOW - DAY, NOW + 80 * DAY),
      stored('web.example.com', ['web.example.com'], NOW - 70 * DAY, NOW + 20 * DAY),
    ]) {
      const { r, issued, notified } = fakes(file ? { 'web.example.com': file } : {});
      await r.ensure(cert, new AbortController().signal);
      expect(issued).toEqual(['web.example.com']);
      expect(notified).toEqual([['web.example.com.pem']]);
    }
  });

  it('lets other store errors through (the queue retries them) and records the last error', async () => {
    const { r, state } = fakes({ 'web.example.com': new WhisperError('STORE_READ', 'permission denied') });
    await expect(r.ensure(cert, new AbortController().signal)).rejects.toThrow(/permission denied/);
    expect(state.cert('web.example.com').lastError).toMatchObject({ code: 'STORE_READ', message: 'permission denied' });
  });

  it('defers an order the budget cannot pay for, until the bucket refills', async () => {
    const { r, issued, budget } = fakes();
    for (let i = 0; i < 5; i++) budget.recordOrder({ names: ['web.example.com'] }, NOW - i * 1000);
    const err = await r.ensure(cert, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RATE_LIMIT_DEFERRED', retryable: true });
    expect((err as WhisperError).retryAfter!.getTime()).toBeGreaterThan(NOW);
    expect(issued).toEqual([]);
  });

  it('records a CA 429 in the budget so the next check waits for Retry-After', async () => {
    const { r, budget } = fakes();
    const retryAfter = new Date(NOW + 3_600_000);
    (r as unknown as { deps: { issuer: Issuer } }).deps.issuer.issue = async () => {
      throw new WhisperError('ACME_RATE_LIMITED', 'too many', { retryable: true, retryAfter });
    };
    await expect(r.ensure(cert, new AbortController().signal)).rejects.toMatchObject({ code: 'ACME_RATE_LIMITED' });
    const verdict = budget.check({ names: cert.names }, NOW + 1000);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok === false && verdict.until.getTime()).toBe(retryAfter.getTime());
  });
});

describe('orderReason', () => {
  const cert: WantedCert = { id: 'a.test', kind: 'single', zone: 'test', names: ['a.test'], services: ['a'] };
  it('explains why an order is needed', () => {
    expect(orderReason(undefined, cert, NOW)).toBe('missing');
    expect(orderReason(stored('a.test', ['b.test'], NOW - DAY, NOW + 80 * DAY), cert, NOW)).toBe('names changed');
    expect(orderReason(stored('a.test', ['a.test'], NOW - 91 * DAY, NOW - DAY), cert, NOW)).toBe('expired');
    expect(orderReason(stored('a.test', ['a.test'], NOW - 61 * DAY, NOW + 29 * DAY), cert, NOW)).toBe('renewal due');
    expect(orderReason(stored('a.test', ['a.test'], NOW - 59 * DAY, NOW + 31 * DAY), cert, NOW)).toBeUndefined();
  });
});

describe('Reconciler: a certificate issued but not stored', () => {
  it('is written on the retry instead of being ordered again', async () => {
    const { makeBundle } = await import('../store/x509-fixture.js');
    const fixture = makeBundle(['web.example.com'], { notAfter: new Date(NOW + 30 * DAY) });
    const t = fakes();
    let writes = 0;
    const deps = (t.r as unknown as { deps: { issuer: Issuer; store: CertStore } }).deps;
    deps.issuer.issue = async (c: WantedCert) => {
      t.issued.push(c.id);
      return { key: fixture.key, cert: fixture.cert, chain: fixture.chain };
    };
    deps.store.write = async (id: string) => {
      writes++;
      if (writes === 1) throw new WhisperError('STORE_WRITE', `cannot write /certs/${id}.pem: ENOSPC`, { retryable: true });
      return stored(id, ['web.example.com'], NOW, NOW + 30 * DAY);
    };
    const cert: WantedCert = { id: 'web.example.com', kind: 'single', zone: 'example.com', names: ['web.example.com'], services: ['web'] };
    await expect(t.r.ensure(cert, new AbortController().signal)).rejects.toThrow(/ENOSPC/);
    await t.r.ensure(cert, new AbortController().signal);
    expect(t.issued).toEqual(['web.example.com']);
    expect(writes).toBe(2);
    expect(t.notified).toEqual([['web.example.com.pem']]);
  });
});
