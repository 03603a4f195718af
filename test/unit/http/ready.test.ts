import { describe, it, expect } from 'vitest';
import { checkReady } from '../../../src/http/ready.js';

const now = () => 1_000_000;

describe('checkReady', () => {
  it('is not ready before the ACME account', async () => {
    expect(await checkReady({ accountReady: () => false, watcherLastSuccess: () => 999_999 }, { now })).toEqual({ ready: false, reason: 'ACME account not ready' });
    expect(await checkReady({}, { now })).toEqual({ ready: false, reason: 'ACME account not ready' });
  });

  it('is ready on a recent watcher answer without probing Consul', async () => {
    let probes = 0;
    const r = await checkReady(
      { accountReady: () => true, watcherLastSuccess: () => 990_000, consulLeader: () => (probes++, Promise.resolve('x')) },
      { now, recentMs: 60_000 },
    );
    expect(r).toEqual({ ready: true });
    expect(probes).toBe(0);
  });

  it('probes Consul when the last watcher answer is old or missing', async () => {
    const base = { accountReady: () => true, watcherLastSuccess: () => 0 };
    expect(await checkReady({ ...base, consulLeader: () => Promise.resolve('10.0.0.1:8300') }, { now })).toEqual({ ready: true });
    expect(await checkReady({ ...base, consulLeader: () => Promise.resolve('') }, { now })).toEqual({ ready: false, reason: 'Consul has no leader' });
    const down = await checkReady({ ...base, consulLeader: () => Promise.reject(new Error('connect ECONNREFUSED')) }, { now });
    expect(down.ready).toBe(false);
    expect(down.reason).toBe('Consul unreachable: connect ECONNREFUSED');
    expect(await checkReady({ accountReady: () => true }, { now })).toEqual({ ready: false, reason: 'Consul not reached yet' });
  });

  it('gives the probe an abort signal that times out', async () => {
    const r = await checkReady(
      {
        accountReady: () => true,
        consulLeader: (signal) => new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(new Error('probe aborted')))),
      },
      { now, probeTimeoutMs: 1 },
    );
    expect(r).toEqual({ ready: false, reason: 'Consul unreachable: probe aborted' });
  });

  it('does not ask a follower for an account', async () => {
    const r = await checkReady({ leader: () => false, accountReady: () => false, consulLeader: () => Promise.resolve('x') }, { now });
    expect(r).toEqual({ ready: true });
  });
});
