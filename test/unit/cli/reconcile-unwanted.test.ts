import { describe, it, expect } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { Reconciler } from '../../../src/reconcile.js';
import { silentLogger } from '../../../src/log.js';
import type { CertStore, StoredCert } from '../../../src/store/types.js';
import type { Issuer } from '../../../src/acme/types.js';
import { RenewalManager } from '../../../src/lifecycle/manager.js';
import { RateBudget } from '../../../src/limits/budget.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState } from '../../../src/state/types.js';
import type { OnRemoval } from '../../../src/policy/types.js';
import { OPENSSL_SMALL_SERIAL } from '../acme/ari-fixtures.js';

const PEM = OPENSSL_SMALL_SERIAL.pem;
const X = new X509Certificate(PEM);
const DAY = 86_400_000;
const file = (id: string): StoredCert => ({
  id, path: `/certs/${id}.pem`, names: ['example.com', 'www.example.com'], notBefore: new Date(X.validFrom), notAfter: new Date(X.validTo),
  serial: OPENSSL_SMALL_SERIAL.serial, issuer: X.issuer, cert: PEM,
});

/** A folder of `ids`, whisper-ts's own (their serial recorded), and a clock the test moves. */
function setup(ids: string[], onRemoval: OnRemoval | undefined) {
  const clock = { now: 1_000 * DAY };
  const files = new Map(ids.map((id) => [id, file(id)]));
  const removed: string[] = [];
  const notified: string[] = [];
  const store = {
    read: async (id: string) => files.get(id),
    list: async () => [...files.values()],
    write: async (id: string) => file(id),
    remove: async (id: string) => {
      removed.push(id);
      files.delete(id);
    },
    readAccount: async () => undefined,
    writeAccount: async () => undefined,
  } satisfies CertStore;
  const issuer = { ensureAccount: async () => undefined, issue: async () => ({ key: 'k', cert: PEM, chain: '' }) } satisfies Issuer;
  const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
  for (const id of ids) state.setCert(id, (old) => ({ ...old, written: OPENSSL_SMALL_SERIAL.serial }));
  const renewal = new RenewalManager({
    state, directoryUrl: 'https://ca.example/dir', renewalInfoUrl: async () => undefined, fetch: async () => new Response('{}', { status: 404 }),
    enqueue: () => undefined, timers: { setTimeout: () => 0, clearTimeout: () => undefined }, now: () => clock.now, random: () => 0, log: silentLogger(),
  });
  const r = new Reconciler({
    store, issuer, renewal, budget: new RateBudget({ account: 'https://ca.example/dir' }), state, log: silentLogger(), allowDomains: [],
    now: () => clock.now, enqueue: () => undefined, forget: () => undefined, notify: (f) => void notified.push(...f),
    ...(onRemoval ? { onRemovalOf: () => onRemoval } : {}),
  });
  return { r, clock, removed, notified, state };
}

const web = new Map([['web', ['dns=example.com', 'ssl=offloading']]]);
const other = new Map([['api', ['dns=example.com', 'ssl=offloading']]]);

describe('Reconciler: on_removal', () => {
  it('deletes the file whisper-ts wrote once nobody has wanted it for delete_after, at a sweep', async () => {
    const t = setup(['web.example.com'], { kind: 'delete', afterMs: 7 * DAY });
    t.r.update(web, 'all');
    t.r.update(other, 'all'); // web's service is gone
    expect(t.state.cert('web.example.com').unwantedSince?.getTime()).toBe(t.clock.now);
    t.clock.now += 6 * DAY;
    await t.r.sweep();
    expect(t.removed).toEqual([]);
    t.clock.now += DAY;
    await t.r.sweep();
    expect(t.removed).toEqual(['web.example.com']);
    expect(t.notified).toContain('web.example.com.pem');
    expect(t.state.cert('web.example.com').written).toBeUndefined();
  });

  it('forgets the time when the certificate is wanted again, and keeps files by default', async () => {
    const t = setup(['web.example.com'], { kind: 'delete', afterMs: 7 * DAY });
    t.r.update(web, 'all');
    t.r.update(other, 'all');
    t.r.update(web, 'all');
    expect(t.state.cert('web.example.com').unwantedSince).toBeUndefined();
    t.clock.now += 30 * DAY;
    await t.r.sweep();
    expect(t.removed).toEqual([]);

    const kept = setup(['web.example.com'], undefined);
    kept.r.update(web, 'all');
    kept.r.update(other, 'all');
    kept.clock.now += 365 * DAY;
    await kept.r.sweep();
    expect(kept.removed).toEqual([]);
  });

  it('counts a file found unwanted at start from the first sweep that sees it', async () => {
    const t = setup(['old.example.com'], { kind: 'delete', afterMs: 7 * DAY });
    t.r.update(other, 'all');
    await t.r.sweep();
    expect(t.removed).toEqual([]);
    t.clock.now += 7 * DAY;
    await t.r.sweep();
    expect(t.removed).toEqual(['old.example.com']);
  });
});
