import { describe, it, expect } from 'vitest';
import { RateBudget, RETRY_AFTER_BUCKET } from '../../../src/limits/budget.js';
import { parseRateLimits } from '../../../src/limits/config.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const EXACT_INTERVAL = (7 * DAY) / 5; // 33.6 h
const DOMAIN_INTERVAL = (7 * DAY) / 50; // 201.6 min

const www = { names: ['www.example.com', 'example.com'] };

// Let's Encrypt's own problem texts (2025 wording), one per limit.
const LE = {
  exactSet: 'Error creating new order :: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-03-02 10:00:00 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-hostnames',
  newOrders: 'too many new orders (300) from this account in the last 3h0m0s, retry after 2026-03-01 01:00:00 UTC',
  registeredDomain: 'too many certificates (50) already issued for "example.com" in the last 168h0m0s, retry after 2026-03-01 03:22:00 UTC',
  authzFailures: 'too many failed authorizations (5) for "www.example.com" in the last 1h0m0s, retry after 2026-03-01 00:12:00 UTC',
};

describe('RateBudget', () => {
  it('allows anything with no history', () => {
    expect(new RateBudget().check(www, T0)).toEqual({ ok: true });
  });

  it('defers the sixth certificate of one exact set until one token has come back', () => {
    const budget = new RateBudget();
    for (let i = 0; i < 5; i += 1) {
      expect(budget.check(www, T0 + i * MIN).ok).toBe(true);
      budget.recordOrder(www, T0 + i * MIN);
    }
    const verdict = budget.check({ names: ['example.com', 'WWW.example.com'] }, T0 + 5 * MIN);
    // Five orders over four minutes: refill runs from the first one, so a token is back one interval after it.
    expect(verdict).toEqual({
      ok: false,
      until: new Date(Math.ceil(T0 + EXACT_INTERVAL)),
      bucket: 'exactSet',
      key: 'example.com,www.example.com',
    });
    if (verdict.ok) return;
    expect(budget.check(www, verdict.until.getTime() - 1000).ok).toBe(false);
    expect(budget.check(www, verdict.until).ok).toBe(true);
    // Another set of the same domain is not held back.
    expect(budget.check({ names: ['api.example.com'] }, T0 + 5 * MIN)).toEqual({ ok: true });
  });

  it('refills one token per period / size, up to the size', () => {
    const budget = new RateBudget({ limits: parseRateLimits('exactSet=2/2h') });
    const order = { names: ['a.example.com'] };
    budget.recordOrder(order, T0);
    budget.recordOrder(order, T0);
    expect(budget.check(order, T0 + 30 * MIN)).toMatchObject({ ok: false, until: new Date(T0 + HOUR) });
    expect(budget.snapshot(T0 + 30 * MIN)).toContainEqual({
      bucket: 'exactSet',
      key: 'a.example.com',
      remaining: 0,
      capacity: 2,
      nextTokenAt: new Date(T0 + HOUR),
      fullAt: new Date(T0 + 2 * HOUR),
    });
    expect(budget.snapshot(T0 + 90 * MIN)).toContainEqual(
      expect.objectContaining({ bucket: 'exactSet', remaining: 1, nextTokenAt: new Date(T0 + 2 * HOUR) }),
    );
    // Long idle: full again, never above the size.
    expect(budget.snapshot(T0 + 10 * HOUR)).toContainEqual({ bucket: 'exactSet', key: 'a.example.com', remaining: 2, capacity: 2 });
    budget.recordOrder(order, T0 + 10 * HOUR);
    budget.recordOrder(order, T0 + 10 * HOUR);
    expect(budget.check(order, T0 + 10 * HOUR).ok).toBe(false);
  });

  it('counts a multi-domain order against each registered domain', () => {
    const budget = new RateBudget({ limits: parseRateLimits('registeredDomain=2/1d') });
    budget.recordOrder({ names: ['a.example.com', 'b.example.org'] }, T0);
    budget.recordOrder({ names: ['c.example.com'] }, T0);
    const blocked = budget.check({ names: ['d.example.com'] }, T0 + MIN);
    expect(blocked).toMatchObject({ ok: false, bucket: 'registeredDomain', key: 'example.com', until: new Date(T0 + 12 * HOUR) });
    expect(budget.check({ names: ['d.example.org'] }, T0 + MIN)).toEqual({ ok: true });
    expect(budget.check({ names: ['x.example.org', 'x.example.com'] }, T0 + MIN)).toMatchObject({ ok: false, key: 'example.com' });
  });

  it('reports the bucket that refills last when several are empty', () => {
    const budget = new RateBudget({ limits: parseRateLimits('newOrders=1/1h,exactSet=1/1d') });
    budget.recordOrder({ names: ['a.example.com'] }, T0);
    expect(budget.check({ names: ['a.example.com'] }, T0)).toMatchObject({ ok: false, bucket: 'exactSet', until: new Date(T0 + DAY) });
    expect(budget.check({ names: ['b.example.com'] }, T0)).toMatchObject({ ok: false, bucket: 'newOrders', key: 'account', until: new Date(T0 + HOUR) });
  });

  it('exempts an ARI renewal (replaces) from every limit, and does not count it', () => {
    const budget = new RateBudget({ limits: parseRateLimits('registeredDomain=1/1d,exactSet=1/1d,newOrders=1/1d,authzFailures=1/1d') });
    budget.recordOrder(www, T0);
    budget.recordAuthzFailure('www.example.com', T0);
    const ari = { ...www, replaces: true };
    expect(budget.check(ari, T0)).toEqual({ ok: true });
    budget.recordOrder(ari, T0);
    expect(budget.events(T0)).toHaveLength(2);
  });

  it('exempts a same-set renewal without ARI from newOrders and registeredDomain, not from exactSet', () => {
    const budget = new RateBudget({ limits: parseRateLimits('registeredDomain=1/1d,exactSet=2/1d,newOrders=1/1d') });
    budget.recordOrder({ names: ['other.example.com'] }, T0);
    const renewal = { ...www, renewal: true };
    expect(budget.check(renewal, T0)).toEqual({ ok: true });
    budget.recordOrder(renewal, T0);
    budget.recordOrder(renewal, T0);
    expect(budget.check(renewal, T0)).toMatchObject({ ok: false, bucket: 'exactSet' });
    // The renewals drew nothing from the registered domain's bucket beyond the first order.
    expect(budget.snapshot(T0)).toContainEqual(expect.objectContaining({ bucket: 'registeredDomain', key: 'example.com', remaining: 0 }));
    expect(budget.snapshot(T0).filter((s) => s.bucket === 'newOrders')).toEqual([
      expect.objectContaining({ key: 'account', remaining: 0, capacity: 1 }),
    ]);
  });

  it('holds back orders for a name after too many failed authorizations, renewals included', () => {
    const budget = new RateBudget();
    for (let i = 0; i < 5; i += 1) budget.recordAuthzFailure('WWW.example.com', T0);
    const verdict = budget.check({ ...www, renewal: true }, T0);
    expect(verdict).toEqual({ ok: false, until: new Date(T0 + 12 * MIN), bucket: 'authzFailures', key: 'www.example.com' });
    expect(budget.check({ names: ['example.com'] }, T0)).toEqual({ ok: true });
    expect(budget.check({ ...www, replaces: true }, T0)).toEqual({ ok: true });
  });

  it('corrects its model after a 429: the order waits until Retry-After', () => {
    const budget = new RateBudget();
    const retryAfter = new Date(T0 + 3 * HOUR);
    budget.recordRateLimited(www, retryAfter, T0);
    const verdict = budget.check(www, T0 + MIN);
    expect(verdict).toMatchObject({ ok: false, until: retryAfter });
    expect(budget.check(www, retryAfter.getTime() - 1).ok).toBe(false);
    expect(budget.check(www, retryAfter).ok).toBe(true);
    // The CA named no limit: only this certificate's name set waits; nothing else of the domain or the account.
    expect(budget.check({ names: ['api.example.com'] }, T0 + MIN)).toEqual({ ok: true });
    expect(budget.check({ names: ['other.example.net'] }, T0 + MIN)).toEqual({ ok: true });
  });

  it('a 429 for one exact set charges that set only: unrelated names and the account go on', () => {
    const budget = new RateBudget({ account: 'acct-1' });
    const retryAfter = new Date(T0 + 34 * HOUR);
    budget.recordRateLimited(www, retryAfter, T0, LE.exactSet);
    expect(budget.check(www, T0 + MIN)).toMatchObject({ ok: false, until: retryAfter });
    expect(budget.check({ names: ['api.example.com'] }, T0 + MIN)).toEqual({ ok: true });
    expect(budget.check({ names: ['other.example.net'] }, T0 + MIN)).toEqual({ ok: true });
    expect(budget.snapshot(T0 + MIN).map((r) => `${r.bucket} ${r.key} ${r.remaining}`)).toEqual([
      'exactSet example.com,www.example.com 0',
      'retryAfter example.com,www.example.com 0',
    ]);
  });

  it('a 429 naming a registered domain holds back that domain only', () => {
    const budget = new RateBudget({ account: 'acct-1' });
    const retryAfter = new Date(T0 + 3 * HOUR);
    budget.recordRateLimited({ names: ['a.example.com', 'b.example.org'] }, retryAfter, T0, LE.registeredDomain);
    expect(budget.check({ names: ['api.example.com'] }, T0 + MIN)).toMatchObject({ ok: false, bucket: 'registeredDomain', key: 'example.com' });
    expect(budget.check({ names: ['api.example.org'] }, T0 + MIN)).toEqual({ ok: true });
    expect(budget.check({ names: ['api.example.com'] }, retryAfter)).toEqual({ ok: true });
  });

  it('a 429 for failed authorizations holds back the identifier it names, not the other names of the order', () => {
    const budget = new RateBudget({ account: 'acct-1' });
    budget.recordRateLimited(www, new Date(T0 + 12 * MIN), T0, LE.authzFailures);
    expect(budget.check({ names: ['www.example.com', 'x.example.com'] }, T0 + MIN)).toMatchObject({ ok: false, bucket: 'authzFailures', key: 'www.example.com' });
    expect(budget.check({ names: ['example.com', 'x.example.com'] }, T0 + MIN)).toEqual({ ok: true });
  });

  it('empties only the bucket the CA named, and holds back even an exempt order of that set', () => {
    const budget = new RateBudget();
    const retryAfter = new Date(T0 + 30 * MIN);
    budget.recordRateLimited({ ...www, replaces: true }, retryAfter, T0, LE.newOrders);
    expect(budget.check({ names: ['other.example.net'] }, T0)).toMatchObject({ ok: false, bucket: 'newOrders', until: retryAfter });
    expect(budget.check({ ...www, replaces: true }, T0)).toMatchObject({ ok: false, bucket: RETRY_AFTER_BUCKET, until: retryAfter });
    expect(budget.check({ ...www, replaces: true }, retryAfter)).toEqual({ ok: true });
  });

  it('survives a restart through its events, and forgets what no longer matters', () => {
    const budget = new RateBudget({ account: 'acct-1' });
    for (let i = 0; i < 5; i += 1) budget.recordOrder(www, T0);
    budget.recordAuthzFailure('x.example.com', T0);
    const restored = new RateBudget({ account: 'acct-1', events: budget.events(T0 + HOUR) });
    expect(restored.check(www, T0 + HOUR)).toEqual(budget.check(www, T0 + HOUR));
    expect(restored.snapshot(T0 + HOUR)).toEqual(budget.snapshot(T0 + HOUR));
    expect(restored.events(T0 + 8 * DAY)).toEqual([]);
  });

  it('keeps a 429 until its Retry-After even past the retention', () => {
    const budget = new RateBudget();
    budget.recordRateLimited(www, new Date(T0 + 10 * DAY), T0);
    expect(budget.events(T0 + 9 * DAY)).toHaveLength(1);
    expect(budget.events(T0 + 10 * DAY)).toEqual([]);
  });

  it('with no limits, allows everything but the CA’s own Retry-After', () => {
    const budget = new RateBudget({ limits: parseRateLimits('none') });
    for (let i = 0; i < 100; i += 1) budget.recordOrder(www, T0);
    expect(budget.check(www, T0)).toEqual({ ok: true });
    expect(budget.snapshot(T0)).toEqual([]);
    budget.recordRateLimited(www, new Date(T0 + HOUR), T0);
    expect(budget.check(www, T0)).toMatchObject({ ok: false, bucket: RETRY_AFTER_BUCKET });
  });

  it('snapshots every touched bucket with what is left and when tokens come back', () => {
    const budget = new RateBudget({ account: 'acct-1' });
    budget.recordOrder(www, T0);
    const rows = budget.snapshot(T0);
    expect(rows.map((r) => `${r.bucket} ${r.key} ${r.remaining}/${r.capacity}`)).toEqual([
      'registeredDomain example.com 49/50',
      'exactSet example.com,www.example.com 4/5',
      'newOrders acct-1 299/300',
    ]);
    expect(rows[0]?.nextTokenAt).toEqual(new Date(Math.ceil(T0 + DOMAIN_INTERVAL)));
    expect(rows[1]?.fullAt).toEqual(new Date(Math.ceil(T0 + EXACT_INTERVAL)));
    expect(rows[2]?.nextTokenAt).toEqual(new Date(T0 + 36_000));
  });
});
