import { describe, expect, it } from 'vitest';
import { isWhisperError } from '../../src/errors.js';
import { parseSince } from '../../src/history/since.js';

const NOW = new Date('2026-03-15T12:00:00Z');

describe('parseSince', () => {
  it('takes a duration back from now', () => {
    expect(parseSince('30m', NOW)).toEqual(new Date('2026-03-15T11:30:00Z'));
    expect(parseSince('12h', NOW)).toEqual(new Date('2026-03-15T00:00:00Z'));
    expect(parseSince('7d', NOW)).toEqual(new Date('2026-03-08T12:00:00Z'));
    expect(parseSince('2w', NOW)).toEqual(new Date('2026-03-01T12:00:00Z'));
    expect(parseSince(' 1D ', NOW)).toEqual(new Date('2026-03-14T12:00:00Z'));
    expect(parseSince('0m', NOW)).toEqual(NOW);
  });

  it('takes an ISO date (midnight UTC) or date-time (UTC unless it has an offset)', () => {
    expect(parseSince('2026-03-01', NOW)).toEqual(new Date('2026-03-01T00:00:00Z'));
    expect(parseSince('2026-03-01T12:30', NOW)).toEqual(new Date('2026-03-01T12:30:00Z'));
    expect(parseSince('2026-03-01 12:30:15', NOW)).toEqual(new Date('2026-03-01T12:30:15Z'));
    expect(parseSince('2026-03-01T12:30:15.250Z', NOW)).toEqual(new Date('2026-03-01T12:30:15.250Z'));
    expect(parseSince('2026-03-01T12:30+02:00', NOW)).toEqual(new Date('2026-03-01T10:30:00Z'));
    expect(parseSince('2026-03-01T12:30-0130', NOW)).toEqual(new Date('2026-03-01T14:00:00Z'));
  });

  it.each(['', 'yesterday', '7', 'd', '-7d', '7y', '1.5h', '2026-02-30', '2026-13-01', '2026-03-01T25:00', '2026-03-01T12:60', '2026-3-1', '2026-03-01T12:00+25:00', '999999999w'])(
    'refuses %j naming --since',
    (text) => {
      let err: unknown;
      try {
        parseSince(text, NOW);
      } catch (e) {
        err = e;
      }
      expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(/^--since /);
      expect((err as Error).message).toContain('30m, 12h, 7d, 2w');
    },
  );
});
