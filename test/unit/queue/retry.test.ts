import { describe, it, expect } from 'vitest';
import { WhisperError } from '../../../src/errors.js';
import { decideRetry, DEFAULT_RETRY } from '../../../src/queue/retry.js';
import { T0, cert, queueHarness, settle } from './fakes.js';

const retryable = (msg = 'temporary') => new WhisperError('DNS_PROVIDER', msg, { retryable: true });

describe('decideRetry', () => {
  it('backs off exponentially from 30 s, capped at an hour, by default', () => {
    const mid = { random: () => 0.5 };
    expect([1, 2, 3, 7, 8, 20].map((n) => decideRetry(retryable(), n, T0, mid).delayMs)).toEqual([
      30_000, 60_000, 120_000, 1_920_000, 3_600_000, 3_600_000,
    ]);
    expect(DEFAULT_RETRY).toEqual({ baseMs: 30_000, maxMs: 3_600_000, factor: 2, jitter: 0.2 });
  });

  it('spreads delays by the jitter fraction', () => {
    expect(decideRetry(retryable(), 1, T0, { random: () => 1 }).delayMs).toBe(36_000);
    expect(decideRetry(retryable(), 1, T0, { random: () => 0 }).delayMs).toBe(24_000);
    expect(decideRetry(retryable(), 1, T0, { random: () => 0, jitter: 0 }).delayMs).toBe(30_000);
  });

  it('waits the maximum delay after a non-retryable error', () => {
    const err = new WhisperError('DNS_ZONE_NOT_FOUND', 'no hosted zone for example.com');
    expect(decideRetry(err, 1, T0, { random: () => 0 })).toEqual({
      code: 'DNS_ZONE_NOT_FOUND',
      message: 'no hosted zone for example.com',
      retryable: false,
      at: T0 + 3_600_000,
      delayMs: 3_600_000,
    });
  });

  it('never retries before retryAfter, but keeps a later backoff', () => {
    const late = new WhisperError('ACME_RATE_LIMITED', 'rate limited', { retryable: true, retryAfter: new Date(T0 + 7_200_000) });
    expect(decideRetry(late, 1, T0, { random: () => 0.5 })).toMatchObject({ at: T0 + 7_200_000, notBefore: T0 + 7_200_000 });
    const soon = new WhisperError('ACME_ORDER', 'service unavailable', { retryable: true, retryAfter: new Date(T0 + 5_000) });
    expect(decideRetry(soon, 1, T0, { random: () => 0.5 }).delayMs).toBe(30_000);
  });

  it('treats an unknown error as INTERNAL with the normal backoff', () => {
    expect(decideRetry(new TypeError('socket hang up'), 2, T0, { random: () => 0.5 })).toMatchObject({
      code: 'INTERNAL',
      message: 'socket hang up',
      retryable: true,
      delayMs: 60_000,
    });
  });
});

describe('IssuanceQueue retries', () => {
  it('retries a failing job after growing delays and resets attempts after a success', async () => {
    const { queue, calls, clock, events } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    calls[0]!.reject(retryable());
    await settle();
    expect(clock.scheduled()).toEqual([30_000]);
    await clock.advance(29_999);
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    expect(calls[1]!.ctx.attempt).toBe(2);
    calls[1]!.reject(retryable());
    await settle();
    expect(clock.scheduled()).toEqual([60_000]);
    await clock.advance(60_000);
    expect(calls[2]!.ctx.attempt).toBe(3);
    calls[2]!.resolve();
    await settle();
    expect(queue.size).toBe(0);
    expect(events.of('failed').map((e) => [e.attempt, e.code, e.delayMs])).toEqual([
      [1, 'DNS_PROVIDER', 30_000],
      [2, 'DNS_PROVIDER', 60_000],
    ]);

    queue.enqueue(cert('a'), 'sweep');
    await settle();
    expect(calls[3]!.ctx.attempt).toBe(1);
  });

  it('applies the injected jitter', async () => {
    const { queue, calls, clock } = queueHarness({ retry: { random: () => 1 } });
    queue.enqueue(cert('a'), 'start');
    await settle();
    calls[0]!.reject(retryable());
    await settle();
    expect(clock.scheduled()).toEqual([36_000]);
  });

  it('honours Retry-After', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    const retryAfter = new Date(clock.now() + 600_000);
    calls[0]!.reject(new WhisperError('ACME_RATE_LIMITED', 'too many new orders', { retryable: true, retryAfter }));
    await settle();
    expect(queue.snapshot()[0]).toMatchObject({ state: 'deferred', nextAt: retryAfter, lastError: { code: 'ACME_RATE_LIMITED' } });
    await clock.advance(599_999);
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    expect(calls).toHaveLength(2);
  });

  it('retries a non-retryable error at the maximum delay and says so in the log', async () => {
    const { queue, calls, clock, logLines } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    calls[0]!.reject(new WhisperError('DNS_ZONE_NOT_FOUND', 'no hosted zone for example.com'));
    await settle();
    expect(clock.scheduled()).toEqual([3_600_000]);
    const line = logLines().find((l) => l.level === 40)!;
    expect(line).toMatchObject({
      id: 'a',
      attempt: 1,
      code: 'DNS_ZONE_NOT_FOUND',
      retryable: false,
      nextAttempt: new Date(clock.now() + 3_600_000).toISOString(),
    });
    expect(line.msg).toContain('not retryable');
    expect(line.msg).toContain('no hosted zone for example.com');
  });

  it('logs one line per failure with id, attempt, code and next attempt time', async () => {
    const { queue, calls, logLines } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    calls[0]!.reject(new WhisperError('DNS_PROPAGATION_TIMEOUT', 'TXT record not visible at ns1'));
    await settle();
    const warnings = logLines().filter((l) => (l.level as number) >= 40);
    expect(warnings).toHaveLength(1);
    expect(Object.keys(warnings[0]!)).toEqual(expect.arrayContaining(['id', 'attempt', 'code', 'nextAttempt']));
  });

  it('keeps other jobs flowing while one keeps failing', async () => {
    const { queue, calls, clock } = queueHarness({ concurrency: 1 });
    queue.enqueue(cert('bad'), 'start');
    queue.enqueue(cert('b'), 'start');
    queue.enqueue(cert('c'), 'start');
    await settle();
    calls[0]!.reject(retryable());
    await settle();
    expect(calls[1]!.cert.id).toBe('b');
    calls[1]!.resolve();
    await settle();
    expect(calls[2]!.cert.id).toBe('c');
    calls[2]!.resolve();
    await settle();
    queue.enqueue(cert('d'), 'added');
    await settle();
    expect(calls[3]!.cert.id).toBe('d');
    calls[3]!.resolve();
    await settle();
    expect(queue.snapshot().map((e) => [e.id, e.state])).toEqual([['bad', 'deferred']]);
    await clock.advance(30_000);
    expect(calls[4]!.cert.id).toBe('bad');
  });

  it('schedules waits longer than a timer can hold in steps', async () => {
    const { queue, calls, clock } = queueHarness();
    queue.enqueue(cert('a'), 'start');
    await settle();
    const retryAfter = new Date(clock.now() + 30 * 86_400_000);
    calls[0]!.reject(new WhisperError('ACME_RATE_LIMITED', 'limited', { retryable: true, retryAfter }));
    await settle();
    expect(clock.scheduled()).toEqual([2_147_483_647]);
    await clock.advance(2_147_483_647);
    expect(calls).toHaveLength(1);
    await clock.advance(30 * 86_400_000 - 2_147_483_647);
    expect(calls).toHaveLength(2);
  });
});

describe('decideRetry for rate limits', () => {
  it('retries a rate-limited order exactly when the CA says, not after the backoff', async () => {
    const { decideRetry } = await import('../../../src/queue/retry.js');
    const { WhisperError } = await import('../../../src/errors.js');
    const now = 1_000_000;
    for (const code of ['ACME_RATE_LIMITED', 'RATE_LIMIT_DEFERRED'] as const) {
      const d = decideRetry(new WhisperError(code, 'slow down', { retryable: true, retryAfter: new Date(now + 3000) }), 1, now);
      expect(d.at).toBe(now + 3000);
    }
    // Other errors keep the backoff as a floor.
    const other = decideRetry(new WhisperError('ACME_ORDER', '503', { retryable: true, retryAfter: new Date(now + 3000) }), 1, now, { random: () => 0.5 });
    expect(other.at).toBe(now + 30_000);
  });
});
