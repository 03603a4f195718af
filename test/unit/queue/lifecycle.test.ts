import { describe, it, expect } from 'vitest';
import { WhisperError } from '../../../src/errors.js';
import { IssuanceQueue } from '../../../src/queue/queue.js';
import { cert, queueHarness, settle } from './fakes.js';

const fail = () => new WhisperError('DNS_PROVIDER', 'temporary', { retryable: true });

describe('IssuanceQueue scheduling', () => {
  it('runs at most `concurrency` jobs at once, first in first out', async () => {
    const { queue, calls, events } = queueHarness({ concurrency: 2 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) queue.enqueue(cert(id), 'start');
    await settle();
    expect(queue.running).toBe(2);
    expect(queue.size).toBe(5);
    expect(calls.map((c) => c.cert.id)).toEqual(['a', 'b']);
    calls[1]!.resolve();
    await settle();
    expect(calls.map((c) => c.cert.id)).toEqual(['a', 'b', 'c']);
    calls[0]!.resolve();
    calls[2]!.resolve();
    await settle();
    expect(calls.map((c) => c.cert.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(queue.running).toBe(2);
    expect(Math.max(...runningOverTime(events.events))).toBe(2);
  });

  it('defaults to 128 at once and rejects a bad concurrency', async () => {
    const { queue, calls } = queueHarness({ concurrency: undefined });
    for (let i = 0; i < 140; i++) queue.enqueue(cert(`c${i}`), 'start');
    await settle();
    expect(calls).toHaveLength(128);
    expect(() => new IssuanceQueue({ run: async () => {}, concurrency: 0 })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('does not run job code inside the enqueue call', () => {
    const { queue, calls } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    expect(calls).toHaveLength(0);
    expect(queue.running).toBe(1);
  });

  it('waits for notBefore', async () => {
    const { queue, calls, clock, events } = queueHarness();
    queue.enqueue(cert('a'), 'start', { notBefore: new Date(clock.now() + 5_000) });
    await settle();
    expect(calls).toHaveLength(0);
    expect(queue.snapshot()).toMatchObject([{ id: 'a', state: 'deferred', nextAt: new Date(clock.now() + 5_000) }]);
    expect(events.of('deferred')).toEqual([{ type: 'deferred', id: 'a', attempt: 1, delayMs: 5_000 }]);
    await clock.advance(5_000);
    expect(calls).toHaveLength(1);
  });

  it('defer() holds a pending job, never brings one earlier, and holds a running job\u2019s next run', async () => {
    const { queue, calls, clock } = queueHarness({ concurrency: 1 });
    queue.enqueue(cert('a'), 'start');
    queue.enqueue(cert('b'), 'start');
    queue.defer('b', new Date(clock.now() + 60_000));
    queue.defer('b', new Date(clock.now() + 10_000));
    queue.defer('unknown', new Date(clock.now() + 10_000));
    await settle();
    expect(queue.snapshot().map((e) => [e.id, e.state, e.nextAt?.getTime()])).toEqual([
      ['a', 'running', undefined],
      ['b', 'deferred', clock.now() + 60_000],
    ]);
    expect(clock.scheduled()).toEqual([60_000]);

    // A running job deferred: its retry waits for the later of backoff and the hold.
    queue.defer('a', new Date(clock.now() + 120_000));
    calls[0]!.reject(fail());
    await settle();
    await clock.advance(60_000);
    expect(calls.map((c) => c.cert.id)).toEqual(['a', 'b']);
    calls[1]!.resolve();
    await settle();
    await clock.advance(59_999);
    expect(calls).toHaveLength(2);
    await clock.advance(1);
    expect(calls.map((c) => c.cert.id)).toEqual(['a', 'b', 'a']);
  });

  it('snapshot lists running, then pending in order, then deferred by due time, with the last error', async () => {
    const { queue, calls, clock } = queueHarness({ concurrency: 1 });
    queue.enqueue(cert('x'), 'start');
    await settle();
    calls[0]!.reject(fail());
    await settle();
    queue.enqueue(cert('late'), 'start', { notBefore: new Date(clock.now() + 90_000) });
    queue.enqueue(cert('r'), 'start');
    queue.enqueue(cert('p2'), 'start');
    queue.enqueue(cert('p1'), 'start');
    await settle();
    const snap = queue.snapshot();
    expect(snap.map((e) => [e.id, e.state, e.attempt])).toEqual([
      ['r', 'running', 1],
      ['p2', 'pending', 1],
      ['p1', 'pending', 1],
      ['x', 'deferred', 2],
      ['late', 'deferred', 1],
    ]);
    expect(snap[3]!.lastError).toEqual({ code: 'DNS_PROVIDER', message: 'temporary', at: new Date(clock.now()) });
    expect(snap[0]).toMatchObject({ reason: 'start', names: ['r'] });
  });
});

describe('IssuanceQueue remove, idle and stop', () => {
  it('remove() drops pending and deferred jobs and cancels their timers', async () => {
    const { queue, calls, clock, events } = queueHarness({ concurrency: 1 });
    queue.enqueue(cert('a'), 'start');
    queue.enqueue(cert('b'), 'start');
    queue.enqueue(cert('c'), 'start', { notBefore: new Date(clock.now() + 1_000) });
    queue.remove('b');
    queue.remove('c');
    expect(queue.has('b')).toBe(false);
    expect(clock.scheduled()).toEqual([]);
    await settle();
    calls[0]!.resolve();
    await clock.advance(10_000);
    expect(calls.map((c) => c.cert.id)).toEqual(['a']);
    expect(events.of('dropped').map((e) => e.id)).toEqual(['b', 'c']);
    expect(queue.size).toBe(0);
  });

  it('remove() lets a running job finish without a re-run or a retry', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    queue.enqueue(cert('a', ['a', 'b']), 'names changed');
    queue.remove('a');
    expect(queue.has('a')).toBe(false);
    expect(queue.running).toBe(1);
    calls[0]!.reject(fail());
    await settle();
    await clock.advance(3_600_000);
    expect(calls).toHaveLength(1);
    expect(queue.size).toBe(0);
    expect(clock.scheduled()).toEqual([]);
  });

  it('a job removed while running and enqueued again runs once more', async () => {
    const { queue, calls } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    queue.remove('a');
    queue.enqueue(cert('a'), 'added');
    calls[0]!.resolve();
    await settle();
    expect(calls).toHaveLength(2);
  });

  it('idle() resolves once nothing is pending or running, ignoring deferred jobs', async () => {
    const { queue, calls } = queueHarness({ concurrency: 1 });
    await queue.idle();
    queue.enqueue(cert('a'), 'start');
    queue.enqueue(cert('b'), 'start');
    let idle = false;
    void queue.idle().then(() => (idle = true));
    await settle();
    calls[0]!.resolve();
    await settle();
    expect(idle).toBe(false);
    calls[1]!.reject(fail());
    await settle();
    expect(idle).toBe(true);
    expect(queue.size).toBe(1);
  });

  it('stop() aborts running jobs, waits for them, drops the rest and retries nothing', async () => {
    const { queue, calls, clock, events } = queueHarness({ concurrency: 1 });
    queue.enqueue(cert('a'), 'start');
    queue.enqueue(cert('b'), 'start');
    queue.enqueue(cert('c'), 'start', { notBefore: new Date(clock.now() + 1_000) });
    await settle();
    const signal = calls[0]!.ctx.signal;
    let stopped = false;
    const stopping = queue.stop().then(() => (stopped = true));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ code: 'ABORTED' });
    await settle();
    expect(stopped).toBe(false);
    calls[0]!.reject(new WhisperError('ABORTED', 'order aborted'));
    await stopping;
    expect(stopped).toBe(true);

    queue.enqueue(cert('d'), 'added');
    await clock.advance(3_600_000);
    expect(calls).toHaveLength(1);
    expect(queue.size).toBe(0);
    expect(clock.scheduled()).toEqual([]);
    expect(events.of('failed')).toEqual([{ type: 'failed', id: 'a', attempt: 1, code: 'ABORTED' }]);
    expect(events.of('dropped').map((e) => e.id)).toEqual(['b', 'c']);
    await queue.stop();
    await queue.idle();
  });
});

/** Replays started/succeeded/failed events into the number of jobs running after each one. */
function runningOverTime(events: ReadonlyArray<{ type: string }>): number[] {
  let running = 0;
  return events.map((e) => {
    if (e.type === 'started') running++;
    if (e.type === 'succeeded' || e.type === 'failed') running--;
    return running;
  });
}
