import { describe, it, expect } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { isWhisperError } from '../../../src/errors.js';
import { openSession } from '../../../src/ha/session.js';
import { createInstanceCheck, instanceCheckId } from '../../../src/ha/check.js';
import { FakeTimers, settle } from '../consul/fakes.js';
import { fakeSessionConsul, hang, sleepOn } from './fake-ha.js';

const CHECK = 'whisper-ts-web1-42-a1b2c3';

function setup() {
  const consul = fakeSessionConsul();
  const timers = new FakeTimers();
  const log = silentLogger();
  const check = createInstanceCheck({ api: consul.api, id: CHECK, ttlS: 3, lockKey: 'whisper/leader', log });
  const open = (signal = new AbortController().signal) =>
    openSession({ api: consul.api, name: 'whisper-ts web1 42', ttlS: 15, lockDelayS: 5, check, checkTtlS: 3, sleep: sleepOn(timers), log }, signal);
  return { consul, timers, open };
}

describe('openSession: the session is tied to the instance\'s health check', () => {
  it('registers the TTL check, passes it, then creates the session with serfHealth and that check', async () => {
    const { consul, open } = setup();
    const session = await open();
    expect(consul.calls).toEqual([`register ${CHECK}`, `pass ${CHECK}`, 'create']);
    expect(consul.services).toEqual([
      expect.objectContaining({ id: CHECK, name: 'whisper-ts', ttl: '3s', deregisterAfter: '1m', meta: expect.objectContaining({ lock_key: 'whisper/leader' }) }),
    ]);
    expect(consul.sessions).toEqual([{ name: 'whisper-ts web1 42', ttl: '15s', lockDelay: '5s', behavior: 'release', checks: ['serfHealth', CHECK] }]);
    expect(session.id).toBe('s1');
    await session.close();
  });

  it('does not create a session when the check cannot be registered', async () => {
    const { consul, open } = setup();
    consul.api.agentServiceRegister = () => Promise.reject(new Error('403 Permission denied'));
    await expect(open()).rejects.toThrow(/403/);
    expect(consul.calls).not.toContain('create');
  });

  it('names each instance\'s check after its host and pid, with a random part (containers all run as pid 1)', () => {
    expect(instanceCheckId('web1.example.com', 1, 'a1b2c3')).toBe('whisper-ts-web1.example.com-1-a1b2c3');
    expect(instanceCheckId('we b/1:x', 7, 'ff')).toBe('whisper-ts-we-b-1-x-7-ff');
  });
});

describe('openSession: keep-alive', () => {
  it('passes the check and renews the session every third of the check TTL, and nothing in between', async () => {
    const { consul, timers, open } = setup();
    const session = await open();
    consul.calls.length = 0;
    await timers.advance(999);
    expect(consul.calls).toEqual([]);
    await timers.advance(1);
    expect(consul.calls.sort()).toEqual([`pass ${CHECK}`, 'renew s1']);
    await timers.advance(2000);
    expect(consul.calls.filter((c) => c.startsWith('pass'))).toHaveLength(3);
    expect(consul.calls.filter((c) => c.startsWith('renew'))).toHaveLength(3);
    expect(session.lost.aborted).toBe(false);
    await session.close();
  });

  it('keeps the session through a failed check pass, and passes again on the next tick', async () => {
    const { consul, timers, open } = setup();
    const session = await open();
    consul.ctl.pass = () => Promise.reject(new Error('connection reset'));
    await timers.advance(1000);
    expect(session.lost.aborted).toBe(false);
    consul.ctl.pass = () => Promise.resolve();
    consul.calls.length = 0;
    await timers.advance(1000);
    expect(consul.calls).toContain(`pass ${CHECK}`);
    expect(session.lost.aborted).toBe(false);
    await session.close();
  });

  it('counts an invalidated session, a failed renewal and a renewal unanswered within a tick as lost', async () => {
    const cases: Array<[string, (s?: AbortSignal) => Promise<boolean>, number]> = [
      ['invalidated', () => Promise.resolve(false), 1000],
      ['failed', () => Promise.reject(new Error('connection refused')), 1000],
      // Sent at 1000 ms, not answered by 2000 ms: lost then, not at Consul's own 10 s request timeout.
      ['unanswered', (s) => hang(s), 2000],
    ];
    for (const [what, renew, lostAt] of cases) {
      const { consul, timers, open } = setup();
      const session = await open();
      consul.ctl.renew = renew;
      await timers.advance(lostAt - 1);
      expect(session.lost.aborted, what).toBe(false);
      await timers.advance(1);
      expect(session.lost.aborted, what).toBe(true);
      expect(isWhisperError(session.lost.reason, 'CONSUL_UNAVAILABLE'), what).toBe(true);
      await session.close();
    }
  });

  it('stops the keep-alive and destroys the session on close; the check stays for the next session', async () => {
    const { consul, timers, open } = setup();
    const session = await open();
    await session.close();
    expect(session.lost.aborted).toBe(true);
    expect(consul.calls.at(-1)).toBe('destroy s1');
    consul.calls.length = 0;
    await timers.advance(10_000);
    expect(consul.calls).toEqual([]);
    expect(timers.pending).toEqual([]);
  });

  it('stops the keep-alive when the outer signal aborts', async () => {
    const { consul, timers, open } = setup();
    const stop = new AbortController();
    const session = await open(stop.signal);
    stop.abort();
    await settle();
    expect(session.lost.aborted).toBe(true);
    consul.calls.length = 0;
    await timers.advance(10_000);
    expect(consul.calls).toEqual([]);
    await session.close();
  });
});

describe('createInstanceCheck', () => {
  it('deregisters the check\'s service on remove, and shrugs off a failure (Consul reaps it after a minute critical)', async () => {
    const consul = fakeSessionConsul();
    const check = createInstanceCheck({ api: consul.api, id: CHECK, ttlS: 3, lockKey: 'whisper/leader', log: silentLogger() });
    await check.remove();
    expect(consul.calls).toEqual([`deregister ${CHECK}`]);
    consul.ctl.deregister = () => Promise.reject(new Error('Consul unreachable'));
    await expect(check.remove()).resolves.toBeUndefined();
  });
});
