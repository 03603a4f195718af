import { describe, it, expect } from 'vitest';
import { haTimingProblem, keepAliveMs, lossNoticeMs } from '../../../src/ha/timing.js';

describe('HA timings', () => {
  it('passes the check and renews the session every third of the check TTL, so a lost session is noticed within the TTL', () => {
    expect(keepAliveMs(3)).toBe(1000);
    expect(keepAliveMs(2)).toBe(667);
    // One tick, then a request that may take a tick to answer, and its answer a tick more on the way back.
    expect(lossNoticeMs(3)).toBe(3000);
  });

  it('accepts a check TTL shorter than the lock delay (the defaults: 3 s and 5 s)', () => {
    expect(haTimingProblem({ checkTtlS: 3, lockDelayS: 5 })).toBeUndefined();
    expect(haTimingProblem({ checkTtlS: 3, lockDelayS: 4 })).toBeUndefined();
  });

  it('refuses a lock delay that another instance could outwait before the leader notices, naming both options', () => {
    for (const [checkTtlS, lockDelayS] of [[3, 3], [3, 2], [10, 5], [2, 0]] as const) {
      const problem = haTimingProblem({ checkTtlS, lockDelayS });
      expect(problem).toMatch(/--check-ttl/);
      expect(problem).toMatch(/--lock-delay/);
    }
  });
});
