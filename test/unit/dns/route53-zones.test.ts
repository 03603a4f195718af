import { describe, it, expect } from 'vitest';
import type { HostedZone } from '@aws-sdk/client-route-53';
import { createZoneFinder, findHostedZone, matchZone, zoneCandidates } from '../../../src/dns/route53-zones.js';
import { isWhisperError } from '../../../src/errors.js';
import { FakeRoute53, fakeClock } from './fake-route53.js';

/** Listings made: a listing is its first page (no marker) and the pages after it. */
const listings = (r53: FakeRoute53) =>
  (r53.callsOf('listHostedZones') as { Marker?: string }[]).filter((c) => c.Marker === undefined).length;

describe('zoneCandidates', () => {
  it('lists the name and its parents, longest first', () => {
    expect(zoneCandidates('_acme-challenge.a.b.example.com')).toEqual([
      '_acme-challenge.a.b.example.com',
      'a.b.example.com',
      'b.example.com',
      'example.com',
      'com',
    ]);
  });
});

describe('matchZone', () => {
  const zone = (name: string, id: string, isPrivate = false): HostedZone => ({
    Id: `/hostedzone/${id}`,
    Name: `${name}.`,
    CallerReference: id,
    Config: { PrivateZone: isPrivate },
  });

  it('takes the longest zone name that is the name or one of its parents, by whole labels', () => {
    const zones = [zone('example.com', 'ZE'), zone('b.example.com', 'ZB'), zone('ample.com', 'ZX')];
    expect(matchZone(zones, '_acme-challenge.a.b.example.com')).toEqual({ id: '/hostedzone/ZB', name: 'b.example.com' });
    expect(matchZone(zones, '_acme-challenge.c.example.com')?.id).toBe('/hostedzone/ZE');
    expect(matchZone(zones, 'example.com.')?.id).toBe('/hostedzone/ZE');
    expect(matchZone(zones, 'notexample.com')).toBeUndefined();
  });

  it('decodes escapes and case in zone names', () => {
    expect(matchZone([zone('Example.COM', 'ZE')], '_acme-challenge.www.example.com')?.name).toBe('example.com');
  });

  it('prefers the public zone of a name; a private zone alone is still taken (as before)', () => {
    expect(matchZone([zone('example.com', 'ZPRIV', true), zone('example.com', 'ZPUB')], 'x.example.com')?.id).toBe(
      '/hostedzone/ZPUB',
    );
    expect(matchZone([zone('example.com', 'ZPUB'), zone('example.com', 'ZPRIV', true)], 'x.example.com')?.id).toBe(
      '/hostedzone/ZPUB',
    );
    expect(matchZone([zone('example.com', 'ZPUB'), zone('in.example.com', 'ZIN', true)], 'x.in.example.com')?.id).toBe(
      '/hostedzone/ZIN',
    );
  });
});

describe('findHostedZone', () => {
  it('finds the longest matching suffix from one listing of every page', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.org');
    r53.addZone('example.com', { id: 'ZOUTER' });
    r53.addZone('b.example.com', { id: 'ZINNER' });
    const api = r53.api();
    expect(await findHostedZone(api, '_acme-challenge.a.b.example.com')).toEqual({
      id: '/hostedzone/ZINNER',
      name: 'b.example.com',
      recordCount: 0,
    });
    expect(r53.callsOf('listHostedZones')).toEqual([
      { Marker: undefined, MaxItems: 100 },
      { Marker: '2', MaxItems: 100 },
    ]);
    expect(r53.callsOf('listHostedZonesByName')).toEqual([]);
  });

  it('throws DNS_ZONE_NOT_FOUND naming the record when no zone matches', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.org');
    const err = await findHostedZone(r53.api(), '_acme-challenge.www.example.com').catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_ZONE_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain('_acme-challenge.www.example.com');
  });

  it('maps API failures to DNS_PROVIDER errors', async () => {
    const r53 = new FakeRoute53();
    r53.failNext.listHostedZones = Object.assign(new Error('bad'), {
      name: 'InvalidInput',
      $metadata: { httpStatusCode: 400 },
    });
    const err = await findHostedZone(r53.api(), '_acme-challenge.example.com').catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(false);
    expect((err as Error).message).toContain('ListHostedZones');
  });
});

describe('an IAM policy without ListHostedZones (written for lego)', () => {
  it('asks ListHostedZonesByName for each suffix, matching names exactly', async () => {
    const r53 = new FakeRoute53();
    // ListHostedZonesByName("b.example.com.") starts with "c.example.com." here: it must not be taken.
    r53.addZone('c.example.com', { id: 'ZC' });
    r53.addZone('example.com', { id: 'ZE' });
    r53.denied.add('listHostedZones');
    const zone = await findHostedZone(r53.api(), '_acme-challenge.www.b.example.com');
    expect(zone.id).toBe('/hostedzone/ZE');
    expect(r53.callsOf('listHostedZonesByName')).toContainEqual({ DNSName: 'b.example.com.', MaxItems: 10 });
  });

  it('in the finder: remembers the denial and each suffix, so common parents are asked once', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com');
    r53.denied.add('listHostedZones');
    const find = createZoneFinder();
    const api = r53.api();
    await find(api, '', '_acme-challenge.www.example.com');
    expect(r53.callsOf('listHostedZonesByName')).toHaveLength(3);
    await find(api, '', '_acme-challenge.api.example.com');
    expect(r53.callsOf('listHostedZonesByName')).toHaveLength(5);
    expect(r53.callsOf('listHostedZones')).toHaveLength(1);
  });

  it('reports both denied as a non-retryable error', async () => {
    const r53 = new FakeRoute53();
    r53.denied.add('listHostedZonesByName');
    r53.denied.add('listHostedZones');
    const err = await findHostedZone(r53.api(), '_acme-challenge.example.com').catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(false);
    expect((err as Error).message).toContain('AccessDenied');
  });
});

describe('createZoneFinder', () => {
  it('answers 100 names in 3 zones, asked at once, with 1 listing', async () => {
    const r53 = new FakeRoute53();
    r53.listPageSize = 100;
    const ids = [r53.addZone('a.test'), r53.addZone('b.test'), r53.addZone('sub.a.test')];
    r53.addZone('other.test');
    const find = createZoneFinder();
    const api = r53.api();
    const zones = ['a.test', 'b.test', 'sub.a.test'];
    const names = Array.from({ length: 100 }, (_, i) => `_acme-challenge.host${i}.${zones[i % 3]}`);
    const found = await Promise.all(names.map((n) => find(api, '', n)));
    expect(r53.calls).toHaveLength(1);
    expect(found.map((z) => z.id)).toEqual(names.map((_, i) => ids[i % 3]));
    // And later ones from memory.
    await find(api, '', '_acme-challenge.late.b.test');
    expect(r53.calls).toHaveLength(1);
  });

  it('a miss lists again, once for a burst of misses, then not before minRefreshMs', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com');
    const clock = fakeClock();
    const find = createZoneFinder({ now: clock.now, minRefreshMs: 30_000 });
    const api = r53.api();
    await find(api, '', '_acme-challenge.www.example.com');
    expect(listings(r53)).toBe(1);

    // Right after a listing, a name in no zone is not found without a call.
    await expect(find(api, '', '_acme-challenge.www.example.net')).rejects.toThrow(/no Route53 hosted zone/);
    expect(listings(r53)).toBe(1);

    // A zone created since: found by the one listing a burst of misses shares, once the interval has passed.
    const net = r53.addZone('example.net');
    clock.advance(30_000);
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) => find(api, '', `_acme-challenge.h${i}.example.net`)),
    );
    expect(burst.every((z) => z.id === net)).toBe(true);
    expect(listings(r53)).toBe(2);

    // Misses right after that refresh make no call.
    const misses = await Promise.allSettled([1, 2, 3].map((i) => find(api, '', `_acme-challenge.h${i}.example.org`)));
    expect(misses.every((m) => m.status === 'rejected')).toBe(true);
    expect(listings(r53)).toBe(2);
  });

  it('lists again after ttlMs even for names it knows, per cache key (account)', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com');
    const clock = fakeClock();
    const find = createZoneFinder({ now: clock.now, ttlMs: 1000 });
    const api = r53.api();
    await find(api, 'p', '_acme-challenge.example.com');
    await find(api, 'p', '_acme-challenge.example.com');
    expect(listings(r53)).toBe(1);
    await find(api, 'other-profile', '_acme-challenge.example.com');
    expect(listings(r53)).toBe(2);
    clock.advance(1001);
    await find(api, 'p', '_acme-challenge.example.com');
    expect(listings(r53)).toBe(3);
  });

  it('a failed listing fails its waiters and does not hold back the next lookup', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com', { id: 'ZE' });
    const find = createZoneFinder();
    const api = r53.api();
    r53.failNext.listHostedZones = Object.assign(new Error('down'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    const failed = await Promise.allSettled([find(api, '', '_acme-challenge.a.example.com'), find(api, '', '_acme-challenge.b.example.com')]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    expect(listings(r53)).toBe(1);
    expect((await find(api, '', '_acme-challenge.a.example.com')).id).toBe('/hostedzone/ZE');
    expect(listings(r53)).toBe(2);
  });

  it('one waiter aborting leaves the shared listing to the others', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com', { id: 'ZE' });
    const find = createZoneFinder();
    const api = r53.api();
    const controller = new AbortController();
    const a = find(api, '', '_acme-challenge.a.example.com', controller.signal).catch((e: unknown) => e);
    const b = find(api, '', '_acme-challenge.b.example.com');
    controller.abort();
    expect(isWhisperError(await a, 'ABORTED')).toBe(true);
    expect((await b).id).toBe('/hostedzone/ZE');
    expect(listings(r53)).toBe(1);
  });
});
