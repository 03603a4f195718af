import { describe, it, expect } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRoute53Provider } from '../../../src/dns/route53.js';
import { ARRIVAL_MARGIN } from '../../../src/dns/route53-throttle.js';
import type { Route53Api } from '../../../src/dns/route53-api.js';
import { FakeRoute53 } from './fake-route53.js';
import { virtualClock } from './virtual-clock.js';

/** The fake's API, each call stamped with the virtual time it was made at. */
function stamped(r53: FakeRoute53, now: () => number) {
  const at: number[] = [];
  const api = r53.api();
  const wrapped = Object.fromEntries(
    Object.entries(api).map(([op, fn]) => [
      op,
      (input: unknown, signal?: AbortSignal) => {
        at.push(now());
        return (fn as (i: unknown, s?: AbortSignal) => Promise<unknown>)(input, signal);
      },
    ]),
  ) as unknown as Route53Api;
  return { api: wrapped, at };
}

describe('route53 provider: a burst of orders', () => {
  it('100 orders in 3 zones: 1 zone listing, calls spaced to --route53-rps', async () => {
    const r53 = new FakeRoute53();
    r53.listPageSize = 100;
    const zones = ['a.test', 'b.test', 'sub.a.test'];
    for (const z of zones) r53.addZone(z);
    const clock = virtualClock(0);
    const { api, at } = stamped(r53, clock.now);
    const provider = createRoute53Provider({
      credentialsFile: join(tmpdir(), 'whisper-ts-no-such-credentials-file'),
      configFile: join(tmpdir(), 'whisper-ts-no-such-config-file'),
      clientFor: () => api,
      sleep: clock.sleep,
      now: clock.now,
      requestsPerSecond: 10,
    });
    const orders = Array.from({ length: 100 }, (_, i) =>
      provider.present([{ fqdn: `_acme-challenge.host${i}.${zones[i % 3]}`, value: `v${i}` }]),
    );
    await clock.advance(60_000);
    await Promise.all(orders);
    expect(r53.callsOf('listHostedZones')).toHaveLength(1);
    expect(r53.callsOf('listHostedZonesByName')).toHaveLength(0);
    // Each order reads its name and writes it (the batching layer, not this provider, merges orders).
    expect(r53.callsOf('changeResourceRecordSets')).toHaveLength(100);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual((1000 / 10) * (1 + ARRIVAL_MARGIN) - 1e-6);
    const perSecond = Math.max(...at.map((s) => at.filter((x) => x >= s && x < s + 1000).length));
    expect(perSecond).toBeLessThanOrEqual(10);
  });
});
