import { WhisperError } from '../errors.js';

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const DURATION = /^(\d{1,9})\s*([mhdw])$/i;
// 2026-03-01, 2026-03-01T12:00, 2026-03-01 12:00:30.5Z, 2026-03-01T12:00+02:00
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

function invalid(text: string, why: string): WhisperError {
  return new WhisperError(
    'CONFIG_INVALID',
    `--since ${JSON.stringify(text)}: ${why}; give a duration (30m, 12h, 7d, 2w) or an ISO date or date-time (2026-03-01, 2026-03-01T12:00Z)`,
  );
}

/**
 * The moment `--since` names: a duration back from `now` (`30m`, `12h`, `7d`, `2w`) or an ISO 8601 date
 * (`2026-03-01`, midnight UTC) or date-time (`2026-03-01T12:00`, seconds optional, a space for the `T` too). A
 * date-time without an offset is UTC, as every time whisper-ts prints.
 * @throws WhisperError `CONFIG_INVALID` naming `--since` for anything else (or a date that does not exist).
 */
export function parseSince(text: string, now: Date): Date {
  const value = text.trim();
  const duration = DURATION.exec(value);
  if (duration) {
    const at = new Date(now.getTime() - Number(duration[1]) * UNIT_MS[duration[2]!.toLowerCase()]!);
    if (Number.isNaN(at.getTime())) throw invalid(text, 'too long ago');
    return at;
  }
  const iso = ISO.exec(value);
  if (!iso) throw invalid(text, value === '' ? 'empty' : 'not a duration or a date');
  const [, y, mo, d, h = '00', mi = '00', s = '00', zone] = iso;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const utc = new Date(Date.UTC(...fields));
  // Date.UTC rolls 2026-02-30 over to March: a field that changed did not exist.
  const back = [utc.getUTCFullYear(), utc.getUTCMonth(), utc.getUTCDate(), utc.getUTCHours(), utc.getUTCMinutes(), utc.getUTCSeconds()];
  if (back.some((v, i) => v !== fields[i])) throw invalid(text, 'no such date or time');
  const fraction = /\.(\d{1,3})\d*/.exec(value)?.[1];
  const ms = fraction === undefined ? 0 : Number(fraction.padEnd(3, '0'));
  let offsetMs = 0;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const [, sign, oh, om] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    if (Number(oh) > 23 || Number(om) > 59) throw invalid(text, 'no such offset');
    offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  }
  return new Date(utc.getTime() + ms - offsetMs);
}
