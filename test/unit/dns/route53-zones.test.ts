import { describe, it, expect } from 'vitest';
import { createZoneFinder, findHostedZone, zoneCandidates } from '../../../src/dns/route53-zones.js';
import { isWhisperError } from '../../../src/errors.js';
import { FakeRoute53, fakeClock } from './fake-route53.js';

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

describe('findHostedZone', () => {
  it('finds the longest matching suffix', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com', { id: 'ZOUTER' });
    r53.addZone('b.example.com', { id: 'ZINNER' });
    const api = r53.api();
    expect(await findHostedZone(api, '_acme-challenge.a.b.example.com')).toEqual({
      id: '/hostedzone/ZINNER',
      name: 'b.example.com',
    });
    expect(await findHostedZone(api, '_acme-challenge.c.example.com')).toEqual({
      id: '/hostedzone/ZOUTER',
      name: 'example.com',
    });
  });

  it('matches zone names exactly, not the next zone in the listing', async () => {
    const r53 = new FakeRoute53();
    // ListHostedZonesByName("b.example.com.") starts with "c.example.com." here: it must not be taken.
    r53.addZone('c.example.com', { id: 'ZC' });
    r53.addZone('example.com', { id: 'ZE' });
    const zone = await findHostedZone(r53.api(), '_acme-challenge.www.b.example.com');
    expect(zone.id).toBe('/hostedzone/ZE');
    expect(r53.callsOf('listHostedZonesByName')).toContainEqual({ DNSName: 'b.example.com.', MaxItems: 10 });
  });

  it('prefers the public zone over a private one of the same name', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com', { id: 'ZPRIV', private: true });
    r53.addZone('example.com', { id: 'ZPUB' });
    expect((await findHostedZone(r53.api(), '_acme-challenge.example.com')).id).toBe('/hostedzone/ZPUB');
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
    r53.failNext.listHostedZonesByName = Object.assign(new Error('bad name'), {
      name: 'InvalidInput',
      $metadata: { httpStatusCode: 400 },
    });
    const err = await findHostedZone(r53.api(), '_acme-challenge.example.com').catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(false);
  });
});

describe('whisper IAM policy (ListHostedZones only)', () => {
  it('falls back to listing every zone, page by page, when ListHostedZonesByName is denied', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.org');
    r53.addZone('example.com', { id: 'ZE' });
    r53.addZone('b.example.com', { id: 'ZB' });
    r53.denied.add('listHostedZonesByName');
    expect((await findHostedZone(r53.api(), '_acme-challenge.a.b.example.com')).id).toBe('/hostedzone/ZB');
    expect((await findHostedZone(r53.api(), '_acme-challenge.www.example.com')).id).toBe('/hostedzone/ZE');
    expect(r53.callsOf('listHostedZones')).toEqual([
      { Marker: undefined, MaxItems: 100 },
      { Marker: '2', MaxItems: 100 },
      { Marker: undefined, MaxItems: 100 },
      { Marker: '2', MaxItems: 100 },
    ]);
  });

  it('lists once for many names in the finder', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com', { id: 'ZE' });
    r53.denied.add('listHostedZonesByName');
    const find = createZoneFinder();
    const api = r53.api();
    await find(api, '', '_acme-challenge.www.example.com');
    await find(api, '', '_acme-challenge.api.example.com');
    expect(r53.callsOf('listHostedZonesByName')).toHaveLength(1);
    expect(r53.callsOf('listHostedZones')).toHaveLength(1);
  });

  it('reports a denied listing as a non-retryable error', async () => {
    const r53 = new FakeRoute53();
    r53.denied.add('listHostedZonesByName');
    r53.denied.add('listHostedZones');
    const err = await findHostedZone(r53.api(), '_acme-challenge.example.com').catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect((err as Error).message).toContain('ListHostedZones');
  });
});

describe('createZoneFinder', () => {
  it('remembers a found zone for its ttl, per cache key', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com');
    const clock = fakeClock();
    const find = createZoneFinder({ now: clock.now, ttlMs: 1000, missTtlMs: 1000 });
    const api = r53.api();
    await find(api, 'p', '_acme-challenge.example.com');
    const first = r53.calls.length;
    await find(api, 'p', '_acme-challenge.example.com');
    expect(r53.calls.length).toBe(first);
    await find(api, 'other-profile', '_acme-challenge.example.com');
    expect(r53.calls.length).toBe(first * 2);
    clock.advance(1001);
    await find(api, 'p', '_acme-challenge.example.com');
    expect(r53.calls.length).toBe(first * 3);
  });

  it('shares what it learnt between names with common parents', async () => {
    const r53 = new FakeRoute53();
    r53.addZone('example.com');
    const find = createZoneFinder();
    const api = r53.api();
    await find(api, '', '_acme-challenge.www.example.com');
    expect(r53.callsOf('listHostedZonesByName')).toHaveLength(3);
    await find(api, '', '_acme-challenge.api.example.com');
    // Two new misses, the zone itself from memory.
    expect(r53.callsOf('listHostedZonesByName')).toHaveLength(5);
  });

  it('forgets a miss sooner than a hit', async () => {
    const r53 = new FakeRoute53();
    const clock = fakeClock();
    const find = createZoneFinder({ now: clock.now, missTtlMs: 60_000 });
    const api = r53.api();
    await expect(find(api, '', '_acme-challenge.example.com')).rejects.toThrow(/no Route53 hosted zone/);
    r53.addZone('example.com', { id: 'ZNEW' });
    await expect(find(api, '', '_acme-challenge.example.com')).rejects.toThrow(/no Route53 hosted zone/);
    clock.advance(60_001);
    expect((await find(api, '', '_acme-challenge.example.com')).id).toBe('/hostedzone/ZNEW');
  });
});
