import { describe, it, expect } from 'vitest';
import { createTokenBucket, reserveToken } from '../../../src/dns/token-bucket.js';
import { isWhisperError } from '../../../src/errors.js';
import { virtualClock } from './virtual-clock.js';

describe('reserveToken', () => {
  it('gives the first token at once and reserves the next ones one interval apart', () => {
    const limits = { ratePerSecond: 10, burst: 1 };
    let state = { tokens: 1, at: 0 };
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = reserveToken(state, 0, limits);
      state = r.state;
      waits.push(r.waitMs);
    }
    expect(waits.map((w) => Math.round(w))).toEqual([0, 100, 200, 300]);
  });

  it('refills with time, never above the burst', () => {
    const limits = { ratePerSecond: 5, burst: 3 };
    const r = reserveToken({ tokens: 0, at: 0 }, 60_000, limits);
    expect(r.waitMs).toBe(0);
    expect(r.state.tokens).toBe(2);
  });
});

describe('createTokenBucket', () => {
  it('spaces calls to the rate: 12 takes at 5/s start 200 ms apart, never more than 5 in a second', async () => {
    const clock = virtualClock(0);
    const bucket = createTokenBucket({ ratePerSecond: 5, now: clock.now, sleep: clock.sleep });
    const starts: number[] = [];
    const all = Promise.all(Array.from({ length: 12 }, () => bucket.take().then(() => starts.push(clock.now()))));
    await clock.advance(5000);
    await all;
    expect(starts).toEqual([0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000, 2200]);
    const inAnySecond = Math.max(...starts.map((s) => starts.filter((x) => x >= s && x < s + 1000).length));
    expect(inAnySecond).toBe(5);
  });

  it('after a quiet time gives one token at once (burst 1), or `burst` of them', async () => {
    const clock = virtualClock(0);
    const one = createTokenBucket({ ratePerSecond: 10, now: clock.now, sleep: clock.sleep });
    const three = createTokenBucket({ ratePerSecond: 10, burst: 3, now: clock.now, sleep: clock.sleep });
    await clock.advance(10_000);
    const at = (b: typeof one) => {
      const starts: number[] = [];
      const p = Promise.all([1, 2, 3, 4].map(() => b.take().then(() => starts.push(clock.now()))));
      return { starts, p };
    };
    const a = at(one);
    const b = at(three);
    await clock.advance(1000);
    await Promise.all([a.p, b.p]);
    expect(a.starts).toEqual([10_000, 10_100, 10_200, 10_300]);
    expect(b.starts).toEqual([10_000, 10_000, 10_000, 10_100]);
  });

  it('an aborted wait rejects ABORTED and its slot stays unused (no two calls share a slot)', async () => {
    const clock = virtualClock(0);
    const bucket = createTokenBucket({ ratePerSecond: 10, now: clock.now, sleep: clock.sleep });
    const controller = new AbortController();
    const starts: number[] = [];
    await bucket.take();
    const aborted = bucket.take(controller.signal).catch((e: unknown) => e);
    const later = bucket.take().then(() => starts.push(clock.now()));
    controller.abort();
    expect(isWhisperError(await aborted, 'ABORTED')).toBe(true);
    const newcomer = bucket.take().then(() => starts.push(clock.now()));
    await clock.advance(1000);
    await Promise.all([later, newcomer]);
    expect(starts).toEqual([200, 300]);
  });

  it('rejects a rate that is not a positive number', () => {
    expect(() => createTokenBucket({ ratePerSecond: 0 })).toThrow(/positive/);
    expect(() => createTokenBucket({ ratePerSecond: Number.NaN })).toThrow(/positive/);
  });
});
