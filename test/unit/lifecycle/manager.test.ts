import { describe, it, expect } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { silentLogger } from '../../../src/log.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { StoredCert } from '../../../src/store/types.js';
import { ariCertId } from '../../../src/acme/ari.js';
import { RenewalManager } from '../../../src/lifecycle/manager.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState } from '../../../src/state/types.js';
import { OPENSSL_SMALL_SERIAL } from '../acme/ari-fixtures.js';

const PEM = OPENSSL_SMALL_SERIAL.pem;
const X = new X509Certificate(PEM);
const NOTAFTER = new Date(X.validTo).getTime();
const DAY = 86_400_000;
const NOW = NOTAFTER - 40 * DAY;
const CERT_ID = ariCertId(PEM);
const cert: WantedCert = { id: 'web.example.com', kind: 'single', zone: 'example.com', names: ['example.com', 'www.example.com'], services: ['web'] };
const file: StoredCert = {
  id: cert.id, path: '/certs/web.example.com.pem', names: cert.names, notBefore: new Date(X.validFrom), notAfter: new Date(NOTAFTER),
  serial: OPENSSL_SMALL_SERIAL.serial, issuer: X.issuer, cert: PEM,
};

/** `knows`: whether the CA's ARI answers for the certificate (404 otherwise, as for one it did not issue). */
function manager(state: StateKeeper, asked: string[], knows = true) {
  const window = { suggestedWindow: { start: new Date(NOW + 10 * DAY).toISOString(), end: new Date(NOW + 12 * DAY).toISOString() } };
  return new RenewalManager({
    state, directoryUrl: 'https://ca.example/dir', renewalInfoUrl: async () => 'https://ca.example/ari',
    fetch: async (url) => {
      asked.push(String(url));
      if (!knows) return new Response('{"type":"urn:ietf:params:acme:error:malformed"}', { status: 404 });
      return new Response(JSON.stringify(window), { status: 200, headers: { 'retry-after': '3600' } });
    },
    enqueue: () => undefined, timers: { setTimeout: () => 0, clearTimeout: () => undefined }, now: () => NOW, random: () => 0, log: silentLogger(),
  });
}

describe('RenewalManager: ARI windows belong to one certificate', () => {
  it("never uses a window (or the moment drawn in it) saved for another certificate, even before its Retry-After", async () => {
    const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
    // Left over from the previous certificate of this name: a window that says "renew now".
    state.setCert(cert.id, () => ({
      ariWindow: { start: new Date(NOW - 2 * DAY), end: new Date(NOW - DAY) }, ariRetryAfter: new Date(NOW + DAY),
      ariCertId: 'previous.cert', ariChosen: true, nextRenewal: new Date(NOW - DAY),
    }));
    const asked: string[] = [];
    const decision = await manager(state, asked).decide(cert, file);
    expect(asked).toEqual([`https://ca.example/ari/${CERT_ID}`]);
    expect(decision).toMatchObject({ action: 'wait', nextAt: new Date(NOW + 10 * DAY), ari: true });
    expect(state.cert(cert.id)).toMatchObject({ ariCertId: CERT_ID, ariWindow: { start: new Date(NOW + 10 * DAY) } });
  });

  it("uses its own saved window until the CA's Retry-After, and asks again after an issuance", async () => {
    const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
    const asked: string[] = [];
    const m = manager(state, asked);
    await m.decide(cert, file);
    await m.decide(cert, file);
    expect(asked).toHaveLength(1);
    m.renewed(cert.id);
    expect(state.cert(cert.id)).toMatchObject({ ca: 'https://ca.example/dir' });
    expect(state.cert(cert.id).ariCertId).toBeUndefined();
    await m.decide(cert, file);
    expect(asked).toHaveLength(2);
  });
});

describe('RenewalManager: certificates of unknown origin', () => {
  it('places a file the state has no CA for by the issuer of one it has, and replaces it when that CA is not the daemon\'s', async () => {
    const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
    state.setCert('known.example.com', () => ({ ca: 'https://old-ca.example/dir' }));
    const m = manager(state, [], false);
    m.learnIssuers([{ ...file, id: 'known.example.com' }]);
    const decision = await m.decide(cert, file);
    expect(decision).toMatchObject({ action: 'order', reason: 'issued by another CA', order: { names: cert.names, renewal: true } });
    expect(decision).not.toHaveProperty('replaces');
    expect(state.cert(cert.id).ca).toBe('https://old-ca.example/dir');
  });

  it('keeps a file whose issuer nothing tells about until its normal renewal; the CA answering ARI for it places it', async () => {
    const unknown = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
    expect(await manager(unknown, [], false).decide(cert, file)).toMatchObject({ action: 'wait' });
    expect(unknown.cert(cert.id).ca).toBeUndefined();
    const known = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
    expect(await manager(known, []).decide(cert, file)).toMatchObject({ action: 'wait', ari: true });
    expect(known.cert(cert.id).ca).toBe('https://ca.example/dir');
  });

  it('keeps a certificate recorded under another address of the same CA: its ARI knows it', async () => {
    const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
    state.setCert(cert.id, () => ({ ca: 'https://old-address.example/dir' }));
    expect(await manager(state, []).decide(cert, file)).toMatchObject({ action: 'wait' });
    expect(state.cert(cert.id).ca).toBe('https://ca.example/dir');
  });
});

