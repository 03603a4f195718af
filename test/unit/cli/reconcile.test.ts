import { describe, it, expect } from 'vitest';
import { Reconciler, orderReason } from '../../../src/reconcile.js';
import { silentLogger } from '../../../src/log.js';
import { WhisperError } from '../../../src/errors.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { CertBundle, CertStore, StoredCert } from '../../../src/store/types.js';
import type { Issuer } from '../../../src/acme/types.js';

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
  const r = new Reconciler({
    store, issuer, log: silentLogger(), allowDomains: [], now: () => NOW,
    enqueue: (c, reason) => enqueued.push([c.id, reason]),
    forget: (id) => forgotten.push(id),
    notify: (f) => notified.push([...f]),
  });
  return { r, enqueued, forgotten, notified, issued };
}

const svc = (name: string, tags: string[]) => ({ name, tags });

describe('Reconciler.update', () => {
  it('queues new and changed certificates, forgets removed ones', () => {
    const { r, enqueued, forgotten } = fakes();
    r.update([svc('web', ['dns=example.com', 'ssl=on']), svc('a', ['dns=example.com', 'vhost=a', 'https=443'])], 'all');
    expect(enqueued).toEqual([['multi-hosts.example.com', 'start'], ['web.example.com', 'start']]);
    enqueued.length = 0;
    r.update([svc('a', ['dns=example.com', 'vhost=a', 'https=443']), svc('b', ['dns=example.com', 'vhost=b', 'https=443'])], new Set(['b', 'web']));
    expect(enqueued).toEqual([['multi-hosts.example.com', 'names changed']]);
    expect(forgotten).toEqual(['web.example.com']);
  });

  it('queues nothing when the plan did not change', () => {
    const { r, enqueued } = fakes();
    const services = [svc('web', ['dns=example.com', 'ssl=on'])];
    r.update(services, 'all');
    r.update([...services, svc('other', ['unrelated'])], new Set(['other']));
    expect(enqueued).toHaveLength(1);
    r.sweep();
    expect(enqueued.at(-1)).toEqual(['web.example.com', 'sweep']);
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

  it('lets other store errors through (the queue retries them)', async () => {
    const { r } = fakes({ 'web.example.com': new WhisperError('STORE_READ', 'permission denied') });
    await expect(r.ensure(cert, new AbortController().signal)).rejects.toThrow(/permission denied/);
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
