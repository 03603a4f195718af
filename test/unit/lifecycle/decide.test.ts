import { describe, it, expect } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { ariCertId } from '../../../src/acme/ari.js';
import { ariToAsk, decide, type LifecycleInput } from '../../../src/lifecycle/decide.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { StoredCert } from '../../../src/store/types.js';
import { OPENSSL_SMALL_SERIAL } from '../acme/ari-fixtures.js';

// The decision alone: a pure function of the file, the state, the budget and the clock.
const PEM = OPENSSL_SMALL_SERIAL.pem;
const X = new X509Certificate(PEM);
const NOTAFTER = new Date(X.validTo).getTime();
const DAY = 86_400_000;
const CERT_ID = ariCertId(PEM);
const cert: WantedCert = { id: 'web.example.com', kind: 'single', zone: 'example.com', names: ['example.com', 'www.example.com'], services: ['web'] };
const stored: StoredCert = {
  id: cert.id, path: '/certs/web.example.com.pem', names: cert.names, notBefore: new Date(X.validFrom), notAfter: new Date(NOTAFTER),
  serial: OPENSSL_SMALL_SERIAL.serial, issuer: X.issuer, cert: PEM,
};
const input = (over: Partial<LifecycleInput> = {}): LifecycleInput => ({
  cert, stored, saved: {}, now: NOTAFTER - 40 * DAY, directoryUrl: 'https://ca/dir', ariOffered: true, issuers: new Map(),
  random: () => 0, budget: () => ({ ok: true }), ...over,
});
const window = (start: number, end: number) => ({ certId: CERT_ID, info: { start: new Date(start), end: new Date(end), retryAfter: new Date(start - DAY) } });

describe('decide', () => {
  it('orders a missing certificate, or defers it while the budget cannot pay', () => {
    expect(decide(input({ stored: undefined }))).toEqual({ action: 'order', reason: 'missing', order: { names: cert.names }, state: {} });
    const until = new Date(NOTAFTER);
    expect(decide(input({ stored: undefined, budget: () => ({ ok: false, until, bucket: 'exactSet', key: 'k' }) })))
      .toEqual({ action: 'defer', reason: 'missing', until, bucket: 'exactSet', key: 'k', state: {} });
  });

  it('renews inside the ARI window with `replaces`, exempt in the budget, and records the window', () => {
    const now = NOTAFTER - 40 * DAY;
    const d = decide(input({ ari: window(now - DAY, now + DAY) }));
    expect(d).toMatchObject({ action: 'order', reason: 'renewal due', replaces: CERT_ID, order: { replaces: true, renewal: true } });
    expect(d.state).toMatchObject({ ariCertId: CERT_ID, ariChosen: true, ariWindow: { start: new Date(now - DAY) } });
  });

  it('waits until the drawn moment, and looks again at the CA\'s Retry-After if sooner', () => {
    const now = NOTAFTER - 40 * DAY;
    const d = decide(input({ ari: { certId: CERT_ID, info: { start: new Date(now + 10 * DAY), end: new Date(now + 12 * DAY), retryAfter: new Date(now + DAY) } } }));
    expect(d).toMatchObject({ action: 'wait', nextAt: new Date(now + 10 * DAY), recheckAt: new Date(now + DAY), ari: true });
  });

  it('sends no refused `replaces`, and none to another CA', () => {
    const now = NOTAFTER - 40 * DAY;
    expect(decide(input({ saved: { replacesRefused: CERT_ID }, ari: window(now - DAY, now + DAY) }))).not.toHaveProperty('replaces');
    const other = decide(input({ saved: { ca: 'https://old/dir' } }));
    expect(other).toMatchObject({ action: 'order', reason: 'issued by another CA' });
    expect(other).not.toHaveProperty('replaces');
  });

  it('keeps a certificate recorded under another directory URL when the daemon\'s CA answers ARI for it (same CA, new address)', () => {
    const now = NOTAFTER - 40 * DAY;
    const moved = input({ saved: { ca: 'https://old-address/dir' } });
    expect(ariToAsk(moved)).toBe(CERT_ID);
    const d = decide({ ...moved, ari: { certId: CERT_ID, info: { start: new Date(now + 10 * DAY), end: new Date(now + 12 * DAY), retryAfter: new Date(now + DAY) } } });
    expect(d).toMatchObject({ action: 'wait', state: { ca: 'https://ca/dir' } });
    // Unanswered (the CA does not know it): replaced.
    expect(decide(moved)).toMatchObject({ action: 'order', reason: 'issued by another CA' });
  });

  it('asks ARI only for a certificate of this CA with the wanted names and no fresh saved window', () => {
    const now = NOTAFTER - 40 * DAY;
    expect(ariToAsk(input())).toBe(CERT_ID);
    expect(ariToAsk(input({ saved: { ariCertId: CERT_ID, ariWindow: { start: new Date(now), end: new Date(now + DAY) }, ariRetryAfter: new Date(now + 1) } }))).toBeUndefined();
    expect(ariToAsk(input({ saved: { ariCertId: 'other', ariWindow: { start: new Date(now), end: new Date(now + DAY) }, ariRetryAfter: new Date(now + 1) } }))).toBe(CERT_ID);
    expect(ariToAsk(input({ ariOffered: false }))).toBeUndefined();
    expect(ariToAsk(input({ cert: { ...cert, names: ['example.com'] } }))).toBeUndefined();
  });
});

describe('decide: a renewal an operator asked for', () => {
  const requested = { renewRequested: { at: new Date(NOTAFTER - 41 * DAY), by: 'api' } };

  it('orders now, long before the schedule, as a renewal with `replaces` when the CA offers ARI', () => {
    const d = decide(input({ saved: requested }));
    expect(d).toMatchObject({ action: 'order', reason: 'requested', replaces: CERT_ID, order: { renewal: true, replaces: true } });
    expect(decide(input({ saved: requested, ariOffered: false }))).not.toHaveProperty('replaces');
    // Without the request the same certificate waits.
    expect(decide(input())).toMatchObject({ action: 'wait' });
  });

  it('is still held back by the budget, and names that changed take precedence', () => {
    const until = new Date(NOTAFTER - 30 * DAY);
    expect(decide(input({ saved: requested, budget: () => ({ ok: false, until, bucket: 'exactSet', key: 'k' }) })))
      .toMatchObject({ action: 'defer', reason: 'requested', until, bucket: 'exactSet' });
    expect(decide(input({ saved: requested, cert: { ...cert, names: ['example.com'] } }))).toMatchObject({ reason: 'names changed' });
  });
});
