import { BUCKET_KINDS, LETSENCRYPT_LIMITS, refillInterval, type BucketKind, type RateLimits } from './config.js';
import { namedLimit } from './classify.js';
import { bucketKeys, exactSetKey, orderKinds, type BudgetOrder } from './keys.js';
import { levelId, pruneEvents, replayBuckets, retryBlocks, type BudgetEvent } from './replay.js';

/** The pseudo-bucket of a CA `Retry-After` (a 429) for an exact name set; it holds even exempt orders back. */
export const RETRY_AFTER_BUCKET = 'retryAfter';

/** Answer of {@link RateBudget.check}. */
export type BudgetVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** When every bucket the order needs has a token again. */
      readonly until: Date;
      /** The bucket that refills last: a {@link BucketKind} or {@link RETRY_AFTER_BUCKET}. */
      readonly bucket: string;
      readonly key: string;
    };

/** One bucket in {@link RateBudget.snapshot}. */
export interface BucketSnapshot {
  /** A {@link BucketKind} or {@link RETRY_AFTER_BUCKET}. */
  readonly bucket: string;
  readonly key: string;
  /** Whole tokens available now (0 when the bucket is empty or in debt). */
  readonly remaining: number;
  readonly capacity: number;
  /** When the next whole token is available; absent when full. */
  readonly nextTokenAt?: Date;
  /** When the bucket is full again; absent when full. */
  readonly fullAt?: Date;
}

/** Options of {@link RateBudget}. */
export interface RateBudgetOptions {
  /** Sizes of the buckets. @default LETSENCRYPT_LIMITS */
  limits?: RateLimits;
  /** The ACME account (key of the `newOrders` bucket). @default 'account' */
  account?: string;
  /** History loaded from the state file. @default [] */
  events?: readonly BudgetEvent[];
}

// Token levels come out of floating-point refills; a level a hair under 1 at its computed refill moment is 1.
const EPSILON = 1e-9;
const ms = (t: number | Date): number => (typeof t === 'number' ? t : t.getTime());

/**
 * The CA rate-limit budget: a history of orders, authorization failures and 429 answers, replayed through
 * token buckets. Consulted before every order; its {@link events} go to the state file so it survives
 * restarts. All times are passed in (epoch milliseconds or a Date).
 */
export class RateBudget {
  private readonly limits: RateLimits;
  private readonly account: string;
  private history: BudgetEvent[];

  constructor(options: RateBudgetOptions = {}) {
    this.limits = options.limits ?? LETSENCRYPT_LIMITS;
    this.account = options.account ?? 'account';
    this.history = [...(options.events ?? [])];
  }

  /**
   * Whether `order` may be placed at `now`. An ARI renewal (`replaces`) is exempt from every limit, a
   * same-set renewal from `newOrders` and `registeredDomain`; only a CA `Retry-After` holds every order back.
   * When refused, `until` is the moment all the buckets it needs have a token again.
   */
  check(order: BudgetOrder, now: number | Date): BudgetVerdict {
    const t = ms(now);
    const levels = replayBuckets(this.history, this.limits, this.account, t);
    let worst: { until: number; bucket: string; key: string } | undefined;
    const consider = (until: number, bucket: string, key: string): void => {
      if (!worst || until > worst.until) worst = { until, bucket, key };
    };
    const kinds: BucketKind[] = order.replaces ? [] : [...orderKinds(order), 'authzFailures'];
    for (const kind of kinds) {
      if (!this.limits[kind]) continue;
      for (const key of bucketKeys(kind, order, this.account)) {
        const level = levels.get(levelId(kind, key));
        if (!level || level.tokens >= 1 - EPSILON) continue;
        consider(Math.ceil(t + (1 - level.tokens) * refillInterval(level.size)), kind, key);
      }
    }
    const setKey = exactSetKey(order.names);
    const blocked = retryBlocks(this.history, t).get(setKey);
    if (blocked !== undefined) consider(blocked, RETRY_AFTER_BUCKET, setKey);
    return worst ? { ok: false, until: new Date(worst.until), bucket: worst.bucket, key: worst.key } : { ok: true };
  }

  /** The CA accepted `order` at `now`. An ARI renewal consumes nothing and is not recorded. */
  recordOrder(order: BudgetOrder, now: number | Date): void {
    if (order.replaces) return;
    this.add({ type: 'order', at: ms(now), names: [...order.names], ...(order.renewal ? { renewal: true } : {}) });
  }

  /** An authorization for `identifier` failed at `now`. */
  recordAuthzFailure(identifier: string, now: number | Date): void {
    this.add({ type: 'authzFailure', at: ms(now), identifier: identifier.toLowerCase() });
  }

  /**
   * The CA refused `order` with 429 and `Retry-After` = `retryAfter`: the model was wrong. The order's exact name
   * set is held back until then whatever its exemptions. When the problem's `detail` names a limit the budget
   * models (see {@link namedLimit}), that one bucket of that one key is emptied so that it has a token again at
   * `retryAfter`; other names, domains and the account's other orders are not charged.
   */
  recordRateLimited(order: BudgetOrder, retryAfter: Date, now: number | Date, detail = ''): void {
    const limit = namedLimit(detail, order, this.account);
    this.add({
      type: 'rateLimited',
      at: ms(now),
      until: Math.max(ms(now), retryAfter.getTime()),
      names: [...order.names],
      ...(order.renewal ? { renewal: true } : {}),
      ...(order.replaces ? { replaces: true } : {}),
      ...(limit ? { bucket: limit.bucket, key: limit.key } : {}),
    });
  }

  /** Every bucket the history touched, with what is left and when tokens come back, for `limits`. */
  snapshot(now: number | Date): BucketSnapshot[] {
    const t = ms(now);
    const rows: BucketSnapshot[] = [];
    const levels = [...replayBuckets(this.history, this.limits, this.account, t).values()].sort(
      (a, b) => BUCKET_KINDS.indexOf(a.kind) - BUCKET_KINDS.indexOf(b.kind) || a.key.localeCompare(b.key),
    );
    for (const level of levels) {
      const { capacity } = level.size;
      const interval = refillInterval(level.size);
      const remaining = Math.max(0, Math.floor(level.tokens + EPSILON));
      if (level.tokens >= capacity - EPSILON) {
        rows.push({ bucket: level.kind, key: level.key, remaining: capacity, capacity });
        continue;
      }
      const next = Math.max(1, remaining + 1);
      rows.push({
        bucket: level.kind,
        key: level.key,
        remaining,
        capacity,
        nextTokenAt: new Date(Math.ceil(t + (next - level.tokens) * interval)),
        fullAt: new Date(Math.ceil(t + (capacity - level.tokens) * interval)),
      });
    }
    for (const [key, until] of retryBlocks(this.history, t)) {
      rows.push({ bucket: RETRY_AFTER_BUCKET, key, remaining: 0, capacity: 1, nextTokenAt: new Date(until), fullAt: new Date(until) });
    }
    return rows;
  }

  /** The history still relevant at `now`, for the state file (older events are dropped here too). */
  events(now: number | Date): BudgetEvent[] {
    this.history = pruneEvents(this.history, this.limits, ms(now));
    return [...this.history];
  }

  private add(event: BudgetEvent): void {
    this.history.push(event);
    this.history = pruneEvents(this.history, this.limits, event.at);
  }
}
