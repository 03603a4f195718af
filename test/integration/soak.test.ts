import { describe, it, expect, inject } from 'vitest';
import { runSoak } from '../../bench/lib/soak.js';
import '../support/env-types.js';

// The short mode of bench/soak.ts: the same run at a small size (bench/README.md has the full run's figures).
const env = inject('env');

describe('soak (short)', () => {
  it('keeps every certificate valid through renewals while Consul restarts empty, the CA is down and the leader is killed', async () => {
    const r = await runSoak(env, { services: 3, validitySeconds: 90, generations: 2, instances: 3, outageMs: 3000, faults: true }, (m) => console.log(m));
    console.log(JSON.stringify(r));
    expect(r.faultsDone).toEqual(['Consul agent restarted empty', 'CA down 3 s', 'leader killed']);
    expect(r.generations).toBeGreaterThanOrEqual(2);
    // Never a moment without a valid certificate: each renewal landed before the certificate it replaced expired.
    expect(r.expiredGaps).toEqual([]);
    expect(r.minMarginMs).toBeGreaterThan(0);
    // Orders the CA created: one per certificate seen, plus the orders the instances logged without a certificate.
    expect(r.issued).toBeGreaterThanOrEqual(r.certificates * r.generations);
    expect(r.ordersAtCa).toBeGreaterThanOrEqual(r.issued);
    expect(r.ordersAtCa).toBeLessThanOrEqual(r.issued + r.retriesShown);
    // The budget's books hold every order the CA counts against the limits, and nothing it does not.
    expect(r.budgetOrders).toBeLessThanOrEqual(r.ordersAtCa - r.exemptOrders);
    expect(r.ordersAtCa - r.exemptOrders - r.budgetOrders).toBeLessThanOrEqual(r.retriesShown);
  }, 600_000);
});
