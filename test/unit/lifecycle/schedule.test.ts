import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { nextRenewal, parseRenewBefore } from '../../../src/lifecycle/schedule.js';

const DAY = 86_400_000;
const notBefore = new Date('2026-01-01T00:00:00Z');
const notAfter = new Date(notBefore.getTime() + 90 * DAY);
const cert = { notBefore, notAfter };
const now = () => notBefore.getTime() + DAY;
const never = () => {
  throw new Error('random must not be drawn');
};

describe('parseRenewBefore', () => {
  it('reads days and percentages', () => {
    expect(parseRenewBefore('30d')).toEqual({ days: 30 });
    expect(parseRenewBefore('30')).toEqual({ days: 30 });
    expect(parseRenewBefore(' 7D ')).toEqual({ days: 7 });
    expect(parseRenewBefore('1.5d')).toEqual({ days: 1.5 });
    expect(parseRenewBefore('33%')).toEqual({ percent: 33 });
  });

  it('refuses garbage with CONFIG_INVALID naming --renew-before', () => {
    for (const bad of ['', 'soon', '30x', '-3d', '0', '0%', '100%', '150%', '30 days', 'd', '%']) {
      let caught: unknown;
      try {
        parseRenewBefore(bad);
      } catch (err) {
        caught = err;
      }
      expect(isWhisperError(caught, 'CONFIG_INVALID'), bad).toBe(true);
      expect((caught as Error).message).toContain('--renew-before');
    }
  });
});

describe('nextRenewal', () => {
  it('renews with a third of the lifetime left by default', () => {
    expect(nextRenewal(cert, { random: never, now })).toEqual({ at: new Date(notBefore.getTime() + 60 * DAY), source: 'fraction' });
  });

  it('applies --renew-before in days or percent', () => {
    expect(nextRenewal(cert, { renewBefore: { days: 30 }, random: never, now })).toEqual({
      at: new Date(notAfter.getTime() - 30 * DAY),
      source: 'days',
    });
    expect(nextRenewal(cert, { renewBefore: { percent: 10 }, random: never, now })).toEqual({
      at: new Date(notAfter.getTime() - 9 * DAY),
      source: 'fraction',
    });
  });

  it('falls back to the one-third rule when the days rule is as long as the lifetime', () => {
    const short = { notBefore, notAfter: new Date(notBefore.getTime() + 6 * DAY) };
    expect(nextRenewal(short, { renewBefore: { days: 30 }, random: never, now })).toEqual({
      at: new Date(notBefore.getTime() + 4 * DAY),
      source: 'fraction',
    });
  });

  it('lets an ARI window win over --renew-before, drawing with the injected random', () => {
    const ari = { start: new Date('2026-02-20T00:00:00Z'), end: new Date('2026-02-22T00:00:00Z') };
    expect(nextRenewal(cert, { ari, renewBefore: { days: 30 }, random: () => 0.5, now })).toEqual({
      at: new Date('2026-02-21T00:00:00Z'),
      source: 'ari',
    });
  });

  it('keeps a moment drawn earlier while it lies in the window, and redraws when the window moved', () => {
    const start = new Date('2026-02-20T00:00:00Z');
    const end = new Date('2026-02-22T00:00:00Z');
    const chosen = new Date('2026-02-20T06:00:00Z');
    expect(nextRenewal(cert, { ari: { start, end, chosen }, random: never, now }).at).toEqual(chosen);
    const moved = { start: new Date('2026-02-25T00:00:00Z'), end: new Date('2026-02-26T00:00:00Z'), chosen };
    expect(nextRenewal(cert, { ari: moved, random: () => 0, now }).at).toEqual(moved.start);
  });

  it('never draws a moment in the last tenth of the lifetime, even when the window runs up to the expiry', () => {
    const born = new Date('2026-01-01T00:00:00Z');
    const short = { notBefore: born, notAfter: new Date(born.getTime() + 40_000) };
    const ari = { start: short.notBefore, end: short.notAfter };
    const late = nextRenewal(short, { ari, random: () => 0.999, now: () => born.getTime() + 1000 });
    expect(late).toEqual({ at: new Date(born.getTime() + 36_000), source: 'ari' });
    // A moment drawn earlier in that last tenth is moved too; inside the rest of the window it is kept.
    expect(nextRenewal(short, { ari: { ...ari, chosen: new Date(born.getTime() + 39_000) }, random: never, now: () => born.getTime() + 1000 }).at)
      .toEqual(new Date(born.getTime() + 36_000));
    expect(nextRenewal(short, { ari: { ...ari, chosen: new Date(born.getTime() + 20_000) }, random: never, now: () => born.getTime() + 1000 }).at)
      .toEqual(new Date(born.getTime() + 20_000));
  });

  it('renews now when the ARI window is in the past (e.g. after a revocation)', () => {
    const ari = { start: new Date('2025-12-01T00:00:00Z'), end: new Date('2025-12-02T00:00:00Z') };
    expect(nextRenewal(cert, { ari, random: () => 0.3, now })).toEqual({ at: new Date(now()), source: 'ari' });
    const kept = { ...ari, chosen: new Date('2025-12-01T12:00:00Z') };
    expect(nextRenewal(cert, { ari: kept, random: never, now }).at).toEqual(new Date(now()));
  });
});
