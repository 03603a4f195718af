import { describe, it, expect, inject } from 'vitest';
import { runSoak } from '../../bench/lib/soak.js';
import '../support/env-types.js';

// The short mode of bench/soak.ts: the same run at a small size (bench/README.md has the full run's figures).
const env = inject('env');

describe('soak (short)', () => {
  it('keeps every certificate valid through renewals while Consul restarts empty, the CA is down and the leader is killed', async () => {
    const r = await runSoak(env, { services: 3, validitySeconds: 40, generations: 3, instances: 3, outageMs: 5000, faults: true }, (m) => console.log(m));
    console.log(JSON.stringify(r));
    expect(r.faultsDone).toEqual(['Consul agent restarted empty', 'CA down 5 s', 'leader killed']);
    expect(r.generations).toBeGreaterThanOrEqual(3);
    expect(r.expiredGaps).toEqual([]);
    // Orders the CA created: one per certificate and generation, plus the retries the instances logged.
    expect(r.ordersAtCa).toBeGreaterThanOrEqual(r.certificates * r.generations);
    expect(r.ordersAtCa).toBeLessThanOrEqual(r.certificates * r.generations + r.retriesShown);
    // The budget's books hold every order the CA counts against the limits, and nothing it does not.
    expect(r.budgetOrders).toBeLessThanOrEqual(r.ordersAtCa - r.exemptOrders);
    expect(r.ordersAtCa - r.exemptOrders - r.budgetOrders).toBeLessThanOrEqual(r.retriesShown);
  }, 600_000);
});
