import { describe, it, expect } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { silentLogger } from '../../../src/log.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { StoredCert } from '../../../src/store/types.js';
import { RenewalManager } from '../../../src/lifecycle/manager.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState } from '../../../src/state/types.js';
import { OPENSSL_SMALL_SERIAL } from '../acme/ari-fixtures.js';

const PEM = OPENSSL_SMALL_SERIAL.pem;
const X = new X509Certificate(PEM);
const NOTAFTER = new Date(X.validTo).getTime();
const DAY = 86_400_000;
const NOW = NOTAFTER - 40 * DAY;
const certOf = (id: string): WantedCert => ({ id, kind: 'single', zone: 'example.com', names: ['example.com', 'www.example.com'], services: ['web'] });
const fileOf = (id: string): StoredCert => ({
  id, path: `/certs/${id}.pem`, names: ['example.com', 'www.example.com'], notBefore: new Date(X.validFrom), notAfter: new Date(NOTAFTER),
  serial: OPENSSL_SMALL_SERIAL.serial, issuer: X.issuer, cert: PEM,
});

describe("RenewalManager: a certificate's own renew_before", () => {
  it('renews by the policy of the certificate where the CA gives no ARI window, by --renew-before elsewhere', async () => {
    const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
    const m = new RenewalManager({
      state, directoryUrl: 'https://ca.example/dir', renewalInfoUrl: async () => undefined, fetch: async () => new Response('{}', { status: 404 }),
      enqueue: () => undefined, timers: { setTimeout: () => 0, clearTimeout: () => undefined }, now: () => NOW, random: () => 0, log: silentLogger(),
      renewBefore: { days: 30 },
      renewBeforeOf: (cert) => (cert.id === 'pinned.example.com' ? { days: 45 } : undefined),
    });
    expect(await m.decide(certOf('pinned.example.com'), fileOf('pinned.example.com'))).toMatchObject({ action: 'order', reason: 'renewal due' });
    expect(await m.decide(certOf('other.example.com'), fileOf('other.example.com'))).toMatchObject({ action: 'wait', nextAt: new Date(NOTAFTER - 30 * DAY) });
  });
});
