import { WhisperError } from '../errors.js';

/** The CA limits the budget models (see the Let's Encrypt rate-limit page). */
export type BucketKind = 'registeredDomain' | 'exactSet' | 'newOrders' | 'authzFailures';

/** Every {@link BucketKind}, in display order. */
export const BUCKET_KINDS: readonly BucketKind[] = ['registeredDomain', 'exactSet', 'newOrders', 'authzFailures'];

/** A token bucket: `capacity` tokens, refilled one every `periodMs / capacity`, full at start. */
export interface BucketSize {
  readonly capacity: number;
  readonly periodMs: number;
}

/** The sizes of the modelled limits; a kind left out is not limited. */
export type RateLimits = Readonly<Partial<Record<BucketKind, BucketSize>>>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Let's Encrypt's limits (2025): 50 certificates per registered domain and 5 per exact set per 7 days, 300 orders per 3 h, 5 failed authorizations per identifier per hour. */
export const LETSENCRYPT_LIMITS: RateLimits = Object.freeze({
  registeredDomain: { capacity: 50, periodMs: 7 * DAY },
  exactSet: { capacity: 5, periodMs: 7 * DAY },
  newOrders: { capacity: 300, periodMs: 3 * HOUR },
  authzFailures: { capacity: 5, periodMs: HOUR },
});

const UNITS: Record<string, number> = { s: 1000, m: MINUTE, h: HOUR, d: DAY };

function invalid(text: string, why: string): WhisperError {
  return new WhisperError(
    'CONFIG_INVALID',
    `--rate-limits: "${text}" ${why}; expected none, letsencrypt, or a list like registeredDomain=50/7d,exactSet=5/7d,newOrders=300/3h,authzFailures=5/1h`,
  );
}

/**
 * Parse `--rate-limits`: `none` (no budget), `letsencrypt` (the default), or a comma-separated list of
 * `kind=count/period` (period units s, m, h, d) or `kind=off`; kinds not listed keep Let's Encrypt's size.
 * Throws `CONFIG_INVALID` on an unknown kind, a repeated kind, or a malformed size.
 */
export function parseRateLimits(text: string): RateLimits {
  const spec = text.trim();
  if (spec.toLowerCase() === 'none') return Object.freeze({});
  if (spec.toLowerCase() === 'letsencrypt' || spec === '') return LETSENCRYPT_LIMITS;
  const limits: Partial<Record<BucketKind, BucketSize>> = { ...LETSENCRYPT_LIMITS };
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    const match = /^\s*(\w+)\s*=\s*(?:(off)|(\d+)\s*\/\s*(\d+)\s*([smhd]))\s*$/i.exec(part);
    if (!match) throw invalid(text, `has a malformed entry "${part.trim()}"`);
    const kind = BUCKET_KINDS.find((k) => k.toLowerCase() === (match[1] ?? '').toLowerCase());
    if (!kind) throw invalid(text, `names an unknown limit "${match[1]}"`);
    if (seen.has(kind)) throw invalid(text, `sets ${kind} twice`);
    seen.add(kind);
    if (match[2]) {
      delete limits[kind];
      continue;
    }
    const capacity = Number(match[3]);
    const periodMs = Number(match[4]) * (UNITS[(match[5] ?? '').toLowerCase()] ?? NaN);
    if (!(capacity > 0) || !(periodMs > 0) || !Number.isSafeInteger(periodMs)) {
      throw invalid(text, `gives ${kind} a size that is not positive`);
    }
    limits[kind] = { capacity, periodMs };
  }
  return Object.freeze(limits);
}

/** Milliseconds for one token to come back. */
export function refillInterval(size: BucketSize): number {
  return size.periodMs / size.capacity;
}
