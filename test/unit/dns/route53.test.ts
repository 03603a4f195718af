import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeResourceRecordSetsCommandInput } from '@aws-sdk/client-route-53';
import { createRoute53Provider, type Route53ProviderOptions } from '../../../src/dns/route53.js';
import { isWhisperError, type WhisperError } from '../../../src/errors.js';
import { createTokenBucket } from '../../../src/dns/token-bucket.js';
import { FakeRoute53, fakeClock } from './fake-route53.js';

const SECRET = 'sEcReT-VaLuE-0123456789abcdefghijklmnopqrs';

function setup(options: Partial<Route53ProviderOptions> = {}) {
  const r53 = new FakeRoute53();
  const clock = fakeClock();
  // The rate limit on a clock of its own: `clock.sleeps` are the GetChange polls alone.
  const bucketClock = fakeClock();
  const profiles: (string | undefined)[] = [];
  const provider = createRoute53Provider({
    bucket: createTokenBucket({ ratePerSecond: 10, now: bucketClock.now, sleep: bucketClock.sleep }),
    credentialsFile: join(tmpdir(), 'whisper-ts-no-such-credentials-file'),
    configFile: join(tmpdir(), 'whisper-ts-no-such-config-file'),
    clientFor: (profile) => {
      profiles.push(profile);
      return r53.api();
    },
    sleep: clock.sleep,
    now: clock.now,
    ...options,
  });
  return { r53, clock, provider, profiles };
}

function changes(r53: FakeRoute53) {
  return (r53.callsOf('changeResourceRecordSets') as ChangeResourceRecordSetsCommandInput[]).map((c) =>
    (c.ChangeBatch?.Changes ?? []).map((ch) => ({
      action: ch.Action,
      name: ch.ResourceRecordSet?.Name,
      values: ch.ResourceRecordSet?.ResourceRecords?.map((r) => r.Value),
    })),
  );
}

describe('route53 present', () => {
  it('writes all names of one zone in one quoted UPSERT batch', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    await provider.present([
      { fqdn: '_acme-challenge.www.example.com', value: 'v1' },
      { fqdn: '_acme-challenge.www.example.com', value: 'v2' },
      { fqdn: '_acme-challenge.api.example.com', value: 'v3' },
    ]);
    expect(changes(r53)).toEqual([
      [
        { action: 'UPSERT', name: '_acme-challenge.www.example.com.', values: ['"v1"', '"v2"'] },
        { action: 'UPSERT', name: '_acme-challenge.api.example.com.', values: ['"v3"'] },
      ],
    ]);
    expect(r53.txt(zone, '_acme-challenge.www.example.com')).toEqual(['"v1"', '"v2"']);
    const batch = r53.callsOf('changeResourceRecordSets')[0] as ChangeResourceRecordSetsCommandInput;
    expect(batch.ChangeBatch?.Changes?.[0]?.ResourceRecordSet?.TTL).toBe(60);
  });

  it('keeps the values already there (an apex and its wildcard share a name)', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    r53.setTxt(zone, '_acme-challenge.example.com', ['"other" "part"']);
    await provider.present([{ fqdn: '_acme-challenge.example.com', value: 'mine' }]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toEqual(['"other" "part"', '"mine"']);
    // Presenting again adds no duplicate.
    await provider.present([{ fqdn: '_acme-challenge.example.com', value: 'mine' }]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toEqual(['"other" "part"', '"mine"']);
  });

  it('reads only the exact name: the next set in the listing is not merged', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    r53.setTxt(zone, '_acme-challenge.z.example.com', ['"unrelated"']);
    await provider.present([{ fqdn: '_acme-challenge.a.example.com', value: 'mine' }]);
    expect(r53.txt(zone, '_acme-challenge.a.example.com')).toEqual(['"mine"']);
    expect(r53.callsOf('listResourceRecordSets')).toContainEqual({
      HostedZoneId: zone,
      StartRecordName: '_acme-challenge.a.example.com.',
      StartRecordType: 'TXT',
      MaxItems: 1,
    });
  });

  it('sends one batch per zone', async () => {
    const { r53, provider } = setup();
    const a = r53.addZone('example.com');
    const b = r53.addZone('sub.example.com');
    await provider.present([
      { fqdn: '_acme-challenge.www.example.com', value: 'v1' },
      { fqdn: '_acme-challenge.www.sub.example.com', value: 'v2' },
    ]);
    const zones = (r53.callsOf('changeResourceRecordSets') as ChangeResourceRecordSetsCommandInput[]).map((c) => c.HostedZoneId);
    expect(zones.sort()).toEqual([a, b].sort());
    expect(r53.txt(b, '_acme-challenge.www.sub.example.com')).toEqual(['"v2"']);
  });

  it('fails with DNS_ZONE_NOT_FOUND before changing anything', async () => {
    const { r53, provider } = setup();
    r53.addZone('example.com');
    const err = await provider
      .present([
        { fqdn: '_acme-challenge.www.example.com', value: 'v1' },
        { fqdn: '_acme-challenge.www.example.net', value: 'v2' },
      ])
      .catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_ZONE_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain('_acme-challenge.www.example.net');
    expect(r53.callsOf('changeResourceRecordSets')).toEqual([]);
  });

  it('serializes concurrent changes of one zone so no value is lost', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    await Promise.all([
      provider.present([{ fqdn: '_acme-challenge.example.com', value: 'apex' }]),
      provider.present([{ fqdn: '_acme-challenge.example.com', value: 'wild' }]),
    ]);
    expect(r53.txt(zone, '_acme-challenge.example.com')?.sort()).toEqual(['"apex"', '"wild"']);
  });
});

describe('route53 INSYNC wait', () => {
  it('polls GetChange with a growing interval until INSYNC', async () => {
    const { r53, clock, provider } = setup({ pollIntervalMs: 500 });
    r53.addZone('example.com');
    r53.pendingPolls = 6;
    await provider.present([{ fqdn: '_acme-challenge.example.com', value: 'v' }]);
    expect(r53.callsOf('getChange')).toHaveLength(7);
    expect(r53.callsOf('getChange')[0]).toEqual({ Id: '/change/C1' });
    expect(clock.sleeps).toEqual([500, 750, 1125, 1687.5, 2531.25, 3796.875, 5000]);
  });

  it('does not poll when the change is already INSYNC', async () => {
    const { r53, provider, clock } = setup();
    r53.addZone('example.com');
    await provider.present([{ fqdn: '_acme-challenge.example.com', value: 'v' }]);
    expect(r53.callsOf('getChange')).toEqual([]);
    expect(clock.sleeps).toEqual([]);
  });

  it('gives up after changeTimeoutMs with a retryable error naming the zone', async () => {
    const { r53, provider, clock } = setup({ changeTimeoutMs: 10_000 });
    r53.addZone('example.com');
    r53.pendingPolls = 1_000;
    const err = (await provider
      .present([{ fqdn: '_acme-challenge.example.com', value: SECRET }])
      .catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('example.com');
    expect(err.message).not.toContain(SECRET);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('waits for INSYNC after a clean-up too', async () => {
    const { r53, provider } = setup();
    r53.addZone('example.com');
    await provider.present([{ fqdn: '_acme-challenge.example.com', value: 'v' }]);
    r53.pendingPolls = 2;
    await provider.cleanUp([{ fqdn: '_acme-challenge.example.com', value: 'v' }]);
    expect(r53.callsOf('getChange')).toHaveLength(3);
  });
});

describe('route53 cleanUp', () => {
  it('deletes the exact set when only our values are there', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    r53.setTxt(zone, '_acme-challenge.example.com', ['"a"', '"b"'], 120);
    await provider.cleanUp([
      { fqdn: '_acme-challenge.example.com', value: 'a' },
      { fqdn: '_acme-challenge.example.com', value: 'b' },
    ]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toBeUndefined();
    expect(changes(r53)).toEqual([[{ action: 'DELETE', name: '_acme-challenge.example.com.', values: ['"a"', '"b"'] }]]);
  });

  it('keeps the values of others', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    r53.setTxt(zone, '_acme-challenge.example.com', ['"theirs"', '"mine"'], 120);
    await provider.cleanUp([{ fqdn: '_acme-challenge.example.com', value: 'mine' }]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toEqual(['"theirs"']);
    const batch = r53.callsOf('changeResourceRecordSets')[0] as ChangeResourceRecordSetsCommandInput;
    expect(batch.ChangeBatch?.Changes?.[0]?.Action).toBe('UPSERT');
    expect(batch.ChangeBatch?.Changes?.[0]?.ResourceRecordSet?.TTL).toBe(120);
  });

  it('makes no call when none of our values is there (safe to repeat)', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    r53.setTxt(zone, '_acme-challenge.example.com', ['"theirs"']);
    await provider.cleanUp([
      { fqdn: '_acme-challenge.example.com', value: 'mine' },
      { fqdn: '_acme-challenge.gone.example.com', value: 'mine' },
    ]);
    expect(r53.callsOf('changeResourceRecordSets')).toEqual([]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toEqual(['"theirs"']);
  });

  it('cleans every zone it can and reports the first failure', async () => {
    const { r53, provider } = setup();
    const a = r53.addZone('example.com');
    r53.setTxt(a, '_acme-challenge.example.com', ['"v"']);
    const b = r53.addZone('example.org');
    r53.setTxt(b, '_acme-challenge.example.org', ['"v"']);
    const err = await provider
      .cleanUp([
        { fqdn: '_acme-challenge.example.net', value: 'v' },
        { fqdn: '_acme-challenge.example.com', value: 'v' },
        { fqdn: '_acme-challenge.example.org', value: 'v' },
      ])
      .catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_ZONE_NOT_FOUND')).toBe(true);
    expect(r53.txt(a, '_acme-challenge.example.com')).toBeUndefined();
    expect(r53.txt(b, '_acme-challenge.example.org')).toBeUndefined();
  });
});

describe('route53 errors', () => {
  it('InvalidChangeBatch is not retryable and its message loses the value', async () => {
    const { r53, provider } = setup();
    r53.addZone('example.com');
    r53.failNext.changeResourceRecordSets = Object.assign(new Error(`Invalid Resource Record: "${SECRET}"`), {
      name: 'InvalidChangeBatch',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    const err = (await provider
      .present([{ fqdn: '_acme-challenge.www.example.com', value: SECRET }])
      .catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('_acme-challenge.www.example.com');
    expect(err.message).toContain('example.com');
    expect(err.message).toContain('InvalidChangeBatch');
    expect(err.message).not.toContain(SECRET);
    expect(String((err.cause as Error).message)).not.toContain(SECRET);
  });

  it('AccessDenied on the change itself is not retryable', async () => {
    const { r53, provider } = setup();
    r53.addZone('example.com');
    r53.denied.add('changeResourceRecordSets');
    const err = (await provider
      .present([{ fqdn: '_acme-challenge.example.com', value: 'v' }])
      .catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('AccessDenied');
  });

  it('throttling is backed off and retried (throttling left after every attempt: route53-throttle.test.ts)', async () => {
    const { r53, provider, clock } = setup({ random: () => 0.5 });
    const zone = r53.addZone('example.com');
    r53.failNext.changeResourceRecordSets = Object.assign(new Error('Rate exceeded'), {
      name: 'Throttling',
      $metadata: { httpStatusCode: 400 },
    });
    await provider.present([{ fqdn: '_acme-challenge.example.com', value: 'v' }]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toEqual(['"v"']);
    expect(r53.callsOf('changeResourceRecordSets')).toHaveLength(2);
    expect(clock.sleeps).toEqual([500]);
  });

  it('a client error while reading the record set is not retryable', async () => {
    const { r53, provider } = setup();
    r53.addZone('example.com');
    r53.failNext.listResourceRecordSets = Object.assign(new Error('zone gone'), {
      name: 'NoSuchHostedZone',
      $metadata: { httpStatusCode: 404 },
    });
    const err = (await provider
      .present([{ fqdn: '_acme-challenge.example.com', value: 'v' }])
      .catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('_acme-challenge.example.com');
  });
});

describe('route53 without ListResourceRecordSets (whisper IAM policy)', () => {
  it('writes only our values and deletes exactly them', async () => {
    const { r53, provider } = setup();
    const zone = r53.addZone('example.com');
    r53.denied.add('listResourceRecordSets');
    await provider.present([
      { fqdn: '_acme-challenge.example.com', value: 'a' },
      { fqdn: '_acme-challenge.example.com', value: 'b' },
    ]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toEqual(['"a"', '"b"']);
    await provider.cleanUp([
      { fqdn: '_acme-challenge.example.com', value: 'a' },
      { fqdn: '_acme-challenge.example.com', value: 'b' },
    ]);
    expect(r53.txt(zone, '_acme-challenge.example.com')).toBeUndefined();
    expect(changes(r53).map((c) => c.map((x) => x.action))).toEqual([['UPSERT'], ['DELETE']]);
  });
});

describe('route53 credentials profiles', () => {
  it('uses the profile named after the domain, else the default chain, one client each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-r53-'));
    try {
      const credentialsFile = join(dir, 'credentials');
      await writeFile(credentialsFile, '[default]\nk=v\n[example.com]\nk=v\n[b.example.com]\nk=v\n');
      const { r53, provider, profiles } = setup({ credentialsFile });
      r53.addZone('example.com');
      r53.addZone('example.org');
      await provider.present([
        { fqdn: '_acme-challenge.a.b.example.com', value: '1' },
        { fqdn: '_acme-challenge.www.example.com', value: '2' },
        { fqdn: '_acme-challenge.www.example.org', value: '3' },
        { fqdn: '_acme-challenge.x.b.example.com', value: '4' },
      ]);
      expect(profiles).toEqual(['b.example.com', 'example.com', undefined]);
      await provider.present([{ fqdn: '_acme-challenge.example.com', value: '5' }]);
      expect(profiles).toHaveLength(3);
      // a.b.example.com and www.example.com are in one zone but two accounts (profiles): two batches.
      expect(r53.callsOf('changeResourceRecordSets')).toHaveLength(4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts `[profile <zone>]` of the config file like `[<zone>]` of the credentials file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-r53-'));
    try {
      const configFile = join(dir, 'config');
      // `[example.org]` without the prefix is not a profile in the config file (AWS rule): the chain is used.
      await writeFile(configFile, '[default]\nregion=us-east-1\n[profile Example.COM]\nk=v\n[example.org]\nk=v\n');
      const { r53, provider, profiles } = setup({ configFile });
      r53.addZone('example.com');
      r53.addZone('example.org');
      await provider.present([
        { fqdn: '_acme-challenge.www.example.com', value: '1' },
        { fqdn: '_acme-challenge.www.example.org', value: '2' },
      ]);
      expect(profiles).toEqual(['Example.COM', undefined]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
