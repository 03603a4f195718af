import { describe, it, expect } from 'vitest';
import { createChangeWaiter } from '../../../src/dns/route53-wait.js';
import { isWhisperError } from '../../../src/errors.js';
import { FakeRoute53 } from './fake-route53.js';
import { virtualClock } from './virtual-clock.js';

function setup(pendingPolls: number) {
  const r53 = new FakeRoute53();
  r53.pendingPolls = pendingPolls;
  const clock = virtualClock(0);
  const wait = createChangeWaiter({
    sleep: clock.sleep,
    now: clock.now,
    pollIntervalMs: 1000,
    maxPollIntervalMs: 1000,
    timeoutMs: 60_000,
  });
  return { r53, api: r53.api(), clock, wait };
}

const outcome = (p: Promise<void>) =>
  p.then(
    () => 'INSYNC',
    (e: unknown) => (isWhisperError(e) ? e.code : String(e)),
  );

describe('createChangeWaiter', () => {
  it('makes one poll loop for two waiters of one change; both resolve with it', async () => {
    const { r53, api, clock, wait } = setup(3);
    const a = outcome(wait(api, '/change/C1', 'zone example.com'));
    await clock.advance(1500);
    // The second waiter joins a loop already polling.
    const b = outcome(wait(api, '/change/C1', 'zone example.com'));
    await clock.advance(10_000);
    expect(await a).toBe('INSYNC');
    expect(await b).toBe('INSYNC');
    expect(r53.callsOf('getChange')).toEqual([{ Id: '/change/C1' }, { Id: '/change/C1' }, { Id: '/change/C1' }, { Id: '/change/C1' }]);
  });

  it('a waiter that aborts leaves alone; the loop goes on for the other', async () => {
    const { r53, api, clock, wait } = setup(5);
    const controller = new AbortController();
    const a = outcome(wait(api, '/change/C1', 'zone example.com', controller.signal));
    const b = outcome(wait(api, '/change/C1', 'zone example.com'));
    await clock.advance(2500);
    controller.abort();
    expect(await a).toBe('ABORTED');
    await clock.advance(10_000);
    expect(await b).toBe('INSYNC');
    expect(r53.callsOf('getChange')).toHaveLength(6);
  });

  it('stops polling when nobody waits any more; a later waiter starts a new loop', async () => {
    const { r53, api, clock, wait } = setup(100);
    const one = new AbortController();
    const two = new AbortController();
    const a = outcome(wait(api, '/change/C1', 'zone example.com', one.signal));
    const b = outcome(wait(api, '/change/C1', 'zone example.com', two.signal));
    await clock.advance(3500);
    one.abort();
    two.abort();
    expect([await a, await b]).toEqual(['ABORTED', 'ABORTED']);
    expect(r53.callsOf('getChange')).toHaveLength(3);
    await clock.advance(10_000);
    expect(r53.callsOf('getChange')).toHaveLength(3);
    expect(clock.pending()).toBe(0);

    r53.pendingPolls = 0;
    const c = outcome(wait(api, '/change/C1', 'zone example.com'));
    await clock.advance(1000);
    expect(await c).toBe('INSYNC');
    expect(r53.callsOf('getChange')).toHaveLength(4);
  });

  it('a failing poll rejects every waiter with the same error', async () => {
    const { r53, api, clock, wait } = setup(2);
    r53.failNext.getChange = Object.assign(new Error('no such change'), {
      name: 'NoSuchChange',
      $metadata: { httpStatusCode: 404 },
    });
    const a = wait(api, '/change/C9', 'zone example.com').catch((e: unknown) => e);
    const b = wait(api, '/change/C9', 'zone example.com').catch((e: unknown) => e);
    await clock.advance(2000);
    const [ea, eb] = await Promise.all([a, b]);
    expect(isWhisperError(ea, 'DNS_PROVIDER')).toBe(true);
    expect(eb).toBe(ea);
    expect(r53.callsOf('getChange')).toHaveLength(1);
  });

  it('keeps separate loops for separate changes', async () => {
    const { r53, api, clock, wait } = setup(0);
    const a = outcome(wait(api, '/change/C1', 'zone a'));
    const b = outcome(wait(api, '/change/C2', 'zone b'));
    await clock.advance(1000);
    expect([await a, await b]).toEqual(['INSYNC', 'INSYNC']);
    expect(r53.callsOf('getChange')).toEqual([{ Id: '/change/C1' }, { Id: '/change/C2' }]);
  });
});
