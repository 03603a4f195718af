import { describe, it, expect } from 'vitest';
import { WhisperError } from '../../../src/errors.js';
import { T0, cert, queueHarness, settle } from './fakes.js';

describe('IssuanceQueue de-duplication', () => {
  it('replaces the certificate of a pending job and keeps its place', async () => {
    const { queue, calls } = queueHarness({ concurrency: 1 });
    queue.enqueue(cert('a'), 'start');
    queue.enqueue(cert('b', ['b', 'b1']), 'start');
    queue.enqueue(cert('c'), 'start');
    queue.enqueue(cert('b', ['b', 'b2']), 'names changed');
    expect(queue.size).toBe(3);
    await settle();
    calls[0]!.resolve();
    await settle();
    calls[1]!.resolve();
    await settle();
    expect(calls.map((c) => c.cert.id)).toEqual(['a', 'b', 'c']);
    expect(calls[1]!.cert.names).toEqual(['b', 'b2']);
    expect(calls[1]!.ctx.reason).toBe('names changed');
  });

  it('runs a job once more, with the newest certificate, when it is enqueued while running', async () => {
    const { queue, calls, events } = queueHarness();
    queue.enqueue(cert('a', ['a1']), 'start');
    await settle();
    queue.enqueue(cert('a', ['a2']), 'added');
    queue.enqueue(cert('a', ['a3']), 'sweep');
    expect(calls).toHaveLength(1);
    expect(queue.size).toBe(1);
    expect(queue.has('a')).toBe(true);
    calls[0]!.resolve();
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.cert.names).toEqual(['a3']);
    expect(calls[1]!.ctx).toMatchObject({ attempt: 1, reason: 'sweep' });
    calls[1]!.resolve();
    await settle();
    expect(calls).toHaveLength(2);
    expect(queue.size).toBe(0);
    expect(events.of('succeeded')).toHaveLength(2);
  });

  it('a re-run after a successful retry starts again at attempt 1', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    calls[0]!.reject(new WhisperError('DNS_PROVIDER', 'route53 throttled', { retryable: true }));
    await settle();
    await clock.advance(30_000);
    expect(calls[1]!.ctx.attempt).toBe(2);
    queue.enqueue(cert('a'), 'sweep');
    calls[1]!.resolve();
    await settle();
    expect(calls[2]!.ctx.attempt).toBe(1);
    expect(queue.snapshot()[0]!.lastError).toBeUndefined();
  });

  it('keeps a deferred job deferred when it is enqueued with the same names', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a', ['a', 'www.a']), 'start');
    await settle();
    calls[0]!.reject(new WhisperError('DNS_PROVIDER', 'route53 throttled', { retryable: true }));
    await settle();
    const before = queue.snapshot()[0]!;
    expect(before).toMatchObject({ id: 'a', state: 'deferred', attempt: 2 });

    queue.enqueue(cert('a', ['a', 'www.a']), 'sweep');
    await settle();
    expect(calls).toHaveLength(1);
    expect(queue.snapshot()[0]).toMatchObject({ state: 'deferred', attempt: 2, nextAt: before.nextAt });
    expect(clock.scheduled()).toEqual([30_000]);

    await clock.advance(30_000);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.ctx.attempt).toBe(2);
  });

  it('runs a deferred job now, with attempts reset, when its names changed', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a', ['a']), 'start');
    await settle();
    calls[0]!.reject(new WhisperError('DNS_PROVIDER', 'route53 throttled', { retryable: true }));
    await settle();
    expect(queue.snapshot()[0]!.state).toBe('deferred');

    queue.enqueue(cert('a', ['a', 'www.a']), 'names changed');
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.cert.names).toEqual(['a', 'www.a']);
    expect(calls[1]!.ctx.attempt).toBe(1);
    expect(clock.scheduled()).toEqual([]);
  });

  it('after a failed run, retries with backoff when the names re-enqueued meanwhile are the same', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a', ['a']), 'start');
    await settle();
    queue.enqueue(cert('a', ['a']), 'sweep');
    calls[0]!.reject(new WhisperError('ACME_ORDER', 'order invalid', { retryable: true }));
    await settle();
    expect(calls).toHaveLength(1);
    expect(queue.snapshot()[0]).toMatchObject({ state: 'deferred', attempt: 2, reason: 'sweep' });
    await clock.advance(30_000);
    expect(calls).toHaveLength(2);
  });

  it('after a failed run, runs at once with attempts reset when new names were enqueued meanwhile', async () => {
    const { queue, calls } = queueHarness();
    queue.enqueue(cert('a', ['a']), 'start');
    await settle();
    queue.enqueue(cert('a', ['a', 'b']), 'names changed');
    calls[0]!.reject(new WhisperError('ACME_ORDER', 'order invalid', { retryable: true }));
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.cert.names).toEqual(['a', 'b']);
    expect(calls[1]!.ctx.attempt).toBe(1);
  });

  it('new names do not skip a Retry-After the CA asked for', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a', ['a']), 'start');
    await settle();
    const retryAfter = new Date(clock.now() + 3_600_000);
    calls[0]!.reject(new WhisperError('ACME_RATE_LIMITED', 'too many orders', { retryable: true, retryAfter }));
    await settle();
    queue.enqueue(cert('a', ['a', 'b']), 'names changed');
    await settle();
    expect(calls).toHaveLength(1);
    expect(queue.snapshot()[0]).toMatchObject({ state: 'deferred', attempt: 1, nextAt: retryAfter });
    await clock.advance(3_600_000);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.cert.names).toEqual(['a', 'b']);
  });
});

describe('IssuanceQueue: an urgent job (an operator asked)', () => {
  it('runs a job waiting for its retry now, with its attempts reset; a plain enqueue leaves it waiting', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    calls[0]!.reject(new WhisperError('DNS_PROVIDER', 'down', { retryable: true }));
    await settle();
    expect(queue.snapshot()[0]).toMatchObject({ id: 'a', state: 'deferred', attempt: 2 });
    queue.enqueue(cert('a'), 'sweep');
    await settle();
    expect(calls).toHaveLength(1);
    queue.enqueue(cert('a'), 'requested', { urgent: true });
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.ctx).toMatchObject({ attempt: 1, reason: 'requested' });
    expect(clock.now()).toBe(T0);
  });

  it('overrides a hold of defer() (the budget said yes since)', async () => {
    const { queue, calls } = queueHarness();
    queue.enqueue(cert('b'), 'start', { notBefore: new Date(T0 + 3_600_000) });
    await settle();
    expect(calls).toHaveLength(0);
    queue.enqueue(cert('b'), 'requested', { urgent: true });
    await settle();
    expect(calls.map((c) => c.cert.id)).toEqual(['b']);
  });
});
