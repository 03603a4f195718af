import { describe, it, expect } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { Reconciler } from '../../../src/reconcile.js';
import { silentLogger } from '../../../src/log.js';
import { WhisperError } from '../../../src/errors.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { CertBundle, CertStore, StoredCert } from '../../../src/store/types.js';
import type { IssueOptions, Issuer } from '../../../src/acme/types.js';
import { ariCertId } from '../../../src/acme/ari.js';
import { RenewalManager } from '../../../src/lifecycle/manager.js';
import { RateBudget } from '../../../src/limits/budget.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState } from '../../../src/state/types.js';
import { OPENSSL_SMALL_SERIAL } from '../acme/ari-fixtures.js';

// The fixture certificate is for www.example.com and example.com, valid 2026-11-23 to 2027-02-21.
const PEM = OPENSSL_SMALL_SERIAL.pem;
const X = new X509Certificate(PEM);
const NOTAFTER = new Date(X.validTo).getTime();
const DAY = 86_400_000;
const CERT_ID = ariCertId(PEM);
const CA = 'https://ca.example/dir';
const cert: WantedCert = { id: 'web.example.com', kind: 'single', zone: 'example.com', names: ['example.com', 'www.example.com'], services: ['web'] };
const fileOf = (): StoredCert => ({
  id: cert.id, path: `/certs/${cert.id}.pem`, names: ['example.com', 'www.example.com'], notBefore: new Date(X.validFrom), notAfter: new Date(NOTAFTER),
  serial: OPENSSL_SMALL_SERIAL.serial, issuer: X.issuer, cert: PEM,
});
const problem = (type: string, detail: string) => ({ type: `urn:ietf:params:acme:error:${type}`, detail });

/** A stored certificate inside its ARI window (`now` past the window's start), an issuer scripted per call. */
function setup(answers: Array<(o: IssueOptions) => CertBundle>, options: { now?: number; ca?: string; ariKnows?: boolean } = {}) {
  const now = options.now ?? NOTAFTER - 10 * DAY;
  const calls: Array<{ replaces?: string }> = [];
  const store = {
    read: async () => fileOf(),
    list: async () => [],
    write: async (id: string) => ({ ...fileOf(), id }),
    readAccount: async () => undefined,
    writeAccount: async () => undefined,
  } satisfies CertStore;
  const issuer = {
    ensureAccount: async () => undefined,
    issue: async (_c: WantedCert, o: IssueOptions = {}) => {
      calls.push(o.replaces ? { replaces: o.replaces } : {});
      const next = answers.shift();
      if (!next) throw new Error('unexpected order');
      return next(o);
    },
  } satisfies Issuer;
  const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
  if (options.ca) state.setCert(cert.id, (old) => ({ ...old, ca: options.ca }));
  const window = { suggestedWindow: { start: new Date(now - DAY).toISOString(), end: new Date(now + DAY).toISOString() } };
  const renewal = new RenewalManager({
    state, directoryUrl: CA, renewalInfoUrl: async () => 'https://ca.example/ari',
    // A CA's ARI answers 404 for a certificate it did not issue.
    fetch: async () =>
      options.ariKnows === false ? new Response('{}', { status: 404 }) : new Response(JSON.stringify(window), { status: 200, headers: { 'retry-after': '3600' } }),
    enqueue: () => undefined, timers: { setTimeout: () => 0, clearTimeout: () => undefined }, now: () => now, random: () => 0, log: silentLogger(),
  });
  const budget = new RateBudget({ account: CA });
  const r = new Reconciler({
    store, issuer, renewal, budget, state, log: silentLogger(), allowDomains: [], now: () => now,
    enqueue: () => undefined, forget: () => undefined, notify: () => undefined,
  });
  return { r, calls, state, budget, now };
}

const ok = (): CertBundle => ({ key: 'k', cert: PEM, chain: '' });
const fails = (err: Error) => (): CertBundle => {
  throw err;
};

describe('Reconciler: renewal with `replaces`', () => {
  for (const [type, status] of [['alreadyReplaced', 409], ['unauthorized', 403], ['malformed', 400]] as const) {
    it(`orders again at once without \`replaces\` when the CA refuses it (${status} ${type}), and remembers it`, async () => {
      const refused = new WhisperError('ACME_ORDER', `refused ${type}`, { cause: problem(type, 'the certificate cannot be replaced') });
      const t = setup([fails(refused), ok]);
      await t.r.ensure(cert, new AbortController().signal);
      expect(t.calls).toEqual([{ replaces: CERT_ID }, {}]);
      // The fallback is a renewal of the same names without ARI: it costs the exact-set bucket only.
      expect(t.budget.events(t.now)).toEqual([{ type: 'order', at: t.now, names: cert.names, renewal: true }]);
      expect(t.state.cert(cert.id)).toMatchObject({ ca: CA });
    });
  }

  it('orders again without `replaces` when new-order carrying it fails with any other CA problem (a 500 included)', async () => {
    // Pebble 2.10 looks a certID up by the serial without its DER 0x00: half of all certificates get a 500 here.
    const internal = new WhisperError('ACME_ORDER', 'the CA refused (HTTP 500)', {
      retryable: true, refusedReplaces: CERT_ID,
      cause: problem('serverInternal', 'could not find an order for the given certificate'),
    });
    const t = setup([fails(internal), ok]);
    await t.r.ensure(cert, new AbortController().signal);
    expect(t.calls).toEqual([{ replaces: CERT_ID }, {}]);
    // The fallback is a renewal of the same names without ARI: the exact-set bucket only.
    expect(t.budget.events(t.now)).toEqual([{ type: 'order', at: t.now, names: cert.names, renewal: true }]);
  });

  it('does not drop `replaces` for a failure after new-order or for a rate limit', async () => {
    const later = new WhisperError('ACME_ORDER', 'finalize: serverInternal', { retryable: true, cause: problem('serverInternal', 'boom') });
    const t = setup([fails(later)]);
    await expect(t.r.ensure(cert, new AbortController().signal)).rejects.toBe(later);
    expect(t.calls).toEqual([{ replaces: CERT_ID }]);
    expect(t.state.cert(cert.id).replacesRefused).toBeUndefined();
    const limited = new WhisperError('ACME_RATE_LIMITED', 'slow down', {
      retryable: true, refusedReplaces: CERT_ID, retryAfter: new Date(t.now + 3_600_000), cause: problem('rateLimited', 'too many'),
    });
    const r = setup([fails(limited)]);
    await expect(r.r.ensure(cert, new AbortController().signal)).rejects.toBe(limited);
    expect(r.calls).toEqual([{ replaces: CERT_ID }]);
  });

  it('never sends a refused `replaces` again for that certificate', async () => {
    const t = setup([fails(new WhisperError('ACME_ORDER', 'no', { cause: problem('unauthorized', 'another account') })), fails(new WhisperError('ACME_ORDER', 'down', { retryable: true }))]);
    await expect(t.r.ensure(cert, new AbortController().signal)).rejects.toThrow(/down/);
    expect(t.state.cert(cert.id).replacesRefused).toBe(CERT_ID);
    const again = setup([ok]);
    again.state.setCert(cert.id, () => t.state.cert(cert.id));
    await again.r.ensure(cert, new AbortController().signal);
    expect(again.calls).toEqual([{}]);
  });

  it('sends no `replaces` for a certificate of another CA, and replaces it at once', async () => {
    // Outside any renewal window: only the other CA makes it due.
    const t = setup([ok], { ca: 'https://staging.ca.example/dir', now: NOTAFTER - 60 * DAY, ariKnows: false });
    await t.r.ensure(cert, new AbortController().signal);
    expect(t.calls).toEqual([{}]);
    expect(t.state.cert(cert.id).ca).toBe(CA);
  });

  it('checks and records an ARI renewal the same way: exempt, nothing charged', async () => {
    const t = setup([ok]);
    for (let i = 0; i < 5; i++) t.budget.recordOrder({ names: cert.names, renewal: true }, t.now - DAY);
    await t.r.ensure(cert, new AbortController().signal);
    expect(t.calls).toEqual([{ replaces: CERT_ID }]);
    expect(t.budget.events(t.now)).toHaveLength(5);
  });
});

describe('Reconciler: what a failed order costs', () => {
  it('a failed authorization is charged to the failing identifier only', async () => {
    const failed = new WhisperError('ACME_ORDER', 'authorization for www.example.com is invalid', { identifier: 'www.example.com' });
    const t = setup([fails(failed)], { now: NOTAFTER - 100 * DAY });
    (t.r as unknown as { deps: { store: CertStore } }).deps.store.read = async () => undefined;
    await expect(t.r.ensure(cert, new AbortController().signal)).rejects.toThrow(/invalid/);
    expect(t.budget.events(t.now)).toEqual([{ type: 'authzFailure', at: t.now, identifier: 'www.example.com' }]);
  });

  it('a 429 naming the exact set holds back this certificate only, not the account', async () => {
    const detail = 'too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s';
    const limited = new WhisperError('ACME_RATE_LIMITED', 'limited', { retryable: true, retryAfter: new Date(NOTAFTER), cause: problem('rateLimited', detail) });
    const t = setup([fails(limited)], { now: NOTAFTER - 100 * DAY });
    (t.r as unknown as { deps: { store: CertStore } }).deps.store.read = async () => undefined;
    await expect(t.r.ensure(cert, new AbortController().signal)).rejects.toMatchObject({ code: 'ACME_RATE_LIMITED' });
    expect(t.budget.check({ names: cert.names }, t.now + 1000)).toMatchObject({ ok: false, bucket: 'exactSet' });
    expect(t.budget.check({ names: ['api.example.com'] }, t.now + 1000)).toEqual({ ok: true });
  });
});

describe('Reconciler: a folder that cannot take the result', () => {
  it('orders nothing while the store says it cannot write, and orders once it can', async () => {
    const t = setup([ok], { now: NOTAFTER - 100 * DAY });
    const store = (t.r as unknown as { deps: { store: CertStore } }).deps.store;
    store.read = async () => undefined;
    let writable = false;
    store.checkWritable = async () => {
      if (!writable) throw new WhisperError('STORE_WRITE', 'certificate folder /certs is not writable by uid 1000: EROFS', { retryable: true });
    };
    await expect(t.r.ensure(cert, new AbortController().signal)).rejects.toMatchObject({ code: 'STORE_WRITE', retryable: true });
    expect(t.calls).toEqual([]);
    expect(t.budget.events(t.now)).toEqual([]);
    writable = true;
    await t.r.ensure(cert, new AbortController().signal);
    expect(t.calls).toEqual([{}]);
  });
});
