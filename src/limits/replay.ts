import { refillInterval, type BucketKind, type BucketSize, type RateLimits } from './config.js';
import { bucketKeys, exactSetKey, orderKinds } from './keys.js';

/**
 * One thing that happened, as persisted in the state file. The buckets are recomputed from these with
 * the limits in force, so a changed `--rate-limits` applies to the past too. Times are epoch milliseconds.
 */
export type BudgetEvent =
  /** The CA accepted an order (it consumed from the buckets its exemptions leave). */
  | { readonly type: 'order'; readonly at: number; readonly names: readonly string[]; readonly renewal?: boolean }
  /** An authorization for `identifier` failed. */
  | { readonly type: 'authzFailure'; readonly at: number; readonly identifier: string }
  /**
   * The CA answered 429 for this order, asking to wait until `until`. When its problem named the limit, `bucket`
   * and `key` say which one, and only that bucket is charged; otherwise only the order's name set is held back.
   */
  | {
      readonly type: 'rateLimited';
      readonly at: number;
      readonly until: number;
      readonly names: readonly string[];
      readonly renewal?: boolean;
      readonly replaces?: boolean;
      readonly bucket?: BucketKind;
      readonly key?: string;
    };

/** The level of one bucket at a moment. */
export interface BucketLevel {
  readonly kind: BucketKind;
  readonly key: string;
  readonly size: BucketSize;
  /** Tokens left, fractional; negative after a 429 correction (a debt the refill pays first). */
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

const WEEK = 7 * 86_400_000;

/** The identity of a bucket in maps and snapshots. */
export function levelId(kind: BucketKind, key: string): string {
  return `${kind} ${key}`;
}

function refill(level: BucketLevel, t: number): void {
  if (t <= level.at) return;
  level.tokens = Math.min(level.size.capacity, level.tokens + (t - level.at) / refillInterval(level.size));
  level.at = t;
}

/**
 * Replay `events` through token buckets of `limits` (each starting full at its first event) and bring every
 * bucket up to `now`. A consumption never takes a bucket below zero: the CA accepted the order, so our model
 * under-counted refills. A 429 sets the one bucket it named so that it has one token exactly at the CA's `until`.
 */
export function replayBuckets(events: readonly BudgetEvent[], limits: RateLimits, account: string, now: number): Map<string, BucketLevel> {
  const levels = new Map<string, BucketLevel>();
  const touch = (kind: BucketKind, key: string, at: number): BucketLevel | undefined => {
    const size = limits[kind];
    if (!size) return undefined;
    const id = levelId(kind, key);
    let level = levels.get(id);
    if (!level) {
      level = { kind, key, size, tokens: size.capacity, at };
      levels.set(id, level);
    }
    refill(level, at);
    return level;
  };
  const sorted = [...events].sort((a, b) => a.at - b.at);
  for (const event of sorted) {
    if (event.type === 'authzFailure') {
      const level = touch('authzFailures', event.identifier.toLowerCase(), event.at);
      if (level) level.tokens = Math.max(0, level.tokens - 1);
      continue;
    }
    // A 429 charges the one bucket its problem named (a state file of an older release may lack the key: then
    // every key of that kind the order touches); an unrecognised 429 charges no bucket (see retryBlocks).
    const kinds = event.type === 'rateLimited' ? (event.bucket ? [event.bucket] : []) : orderKinds(event);
    for (const kind of kinds) {
      // A kind without a limit has no bucket: skip computing its keys (a Public Suffix List lookup per name).
      if (!limits[kind]) continue;
      const keys = event.type === 'rateLimited' && event.key !== undefined ? [event.key] : bucketKeys(kind, event, account);
      for (const key of keys) {
        const level = touch(kind, key, event.at);
        if (!level) continue;
        if (event.type === 'order') {
          level.tokens = Math.max(0, level.tokens - 1);
        } else {
          const debt = 1 - (event.until - event.at) / refillInterval(level.size);
          level.tokens = Math.min(level.tokens, debt);
        }
      }
    }
  }
  for (const level of levels.values()) refill(level, now);
  return levels;
}

/** The CA's own `Retry-After` per exact name set, still in the future: honoured even for exempt orders. */
export function retryBlocks(events: readonly BudgetEvent[], now: number): Map<string, number> {
  const blocks = new Map<string, number>();
  for (const event of events) {
    if (event.type !== 'rateLimited' || event.until <= now) continue;
    const key = exactSetKey(event.names);
    blocks.set(key, Math.max(blocks.get(key) ?? 0, event.until));
  }
  return blocks;
}

/** How long events matter: the longest period of the limits, at least the 7 days of Let's Encrypt's. */
export function retentionMs(limits: RateLimits): number {
  return Math.max(WEEK, ...Object.values(limits).map((size) => size.periodMs));
}

/** The events still relevant at `now` (a bucket refills fully within its period; a 429 matters until its `until`). */
export function pruneEvents(events: readonly BudgetEvent[], limits: RateLimits, now: number): BudgetEvent[] {
  const horizon = now - retentionMs(limits);
  return events.filter((e) => e.at > horizon || (e.type === 'rateLimited' && e.until > now));
}
