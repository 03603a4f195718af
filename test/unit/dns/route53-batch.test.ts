import { describe, it, expect } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Change, ChangeResourceRecordSetsCommandInput } from '@aws-sdk/client-route-53';
import { batchDnsProvider } from '../../../src/dns/batch.js';
import { createRoute53Provider } from '../../../src/dns/route53.js';
import { changeCost, splitChanges } from '../../../src/dns/route53-limits.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import type { Timers } from '../../../src/time.js';
import { FakeRoute53, fakeClock } from './fake-route53.js';

const value = (i: number) => `${String(i).padStart(4, '0')}${'x'.repeat(39)}`; // 43 characters, as a dns-01 digest
const upsert = (name: string, values: string[]): Change => ({
  Action: 'UPSERT',
  ResourceRecordSet: { Name: `${name}.`, Type: 'TXT', TTL: 60, ResourceRecords: values.map((v) => ({ Value: `"${v}"` })) },
});

describe('Route53 change limits', () => {
  it('counts an UPSERT twice, records and characters, as Route53 does', () => {
    expect(changeCost(upsert('a.example.com', [value(1), value(2)]))).toEqual({ records: 4, characters: 180 });
    expect(changeCost({ ...upsert('a.example.com', [value(1)]), Action: 'DELETE' })).toEqual({ records: 1, characters: 45 });
  });

  it('keeps what fits in one request, and cuts only at 1,000 records or 32,000 characters', () => {
    const few = Array.from({ length: 100 }, (_, i) => upsert(`_acme-challenge.h${i}.example.com`, [value(i)]));
    expect(splitChanges(few)).toEqual([few]);
    // 90 counted characters each: 355 fit in 32,000.
    const many = Array.from({ length: 400 }, (_, i) => upsert(`_acme-challenge.h${i}.example.com`, [value(i)]));
    expect(splitChanges(many).map((b) => b.length)).toEqual([355, 45]);
    // Short values: the record count binds first (500 UPSERTs of one value = 1,000).
    const short = Array.from({ length: 600 }, (_, i) => upsert(`n${i}.example.com`, ['v']));
    expect(splitChanges(short).map((b) => b.length)).toEqual([500, 100]);
    // A set over the limits on its own is not cut.
    const huge = upsert('big.example.com', Array.from({ length: 600 }, (_, i) => value(i)));
    expect(splitChanges([few[0]!, huge, few[1]!]).map((b) => b.length)).toEqual([1, 1, 1]);
  });
});

/** Timers that fire when told to. */
function manualTimers() {
  const due: Array<() => void> = [];
  const timers: Timers = { setTimeout: (fn) => due.push(fn), clearTimeout: () => undefined };
  return { timers, fire: () => due.splice(0).forEach((fn) => fn()) };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup() {
  const r53 = new FakeRoute53();
  const clock = fakeClock();
  const inner = createRoute53Provider({
    credentialsFile: join(tmpdir(), 'whisper-ts-no-such-credentials-file'),
    configFile: join(tmpdir(), 'whisper-ts-no-such-config-file'),
    clientFor: () => r53.api(),
    sleep: clock.sleep,
    now: clock.now,
  });
  // Counts the zone lookups done, so that a window closes only once every caller has joined it.
  let keyed = 0;
  const counted: DnsProvider = {
    ...inner,
    batchKey: async (fqdn, signal) => {
      const key = await inner.batchKey!(fqdn, signal);
      keyed++;
      return key;
    },
  };
  const windows = manualTimers();
  const dns = batchDnsProvider(counted, { timers: windows.timers });
  /** Runs `calls` (one record each) together: the window closes once all of them have joined it. */
  async function burst(calls: Array<() => Promise<void>>): Promise<void> {
    const before = keyed;
    const all = Promise.all(calls.map((c) => c()));
    while (keyed < before + calls.length) await settle();
    await settle();
    windows.fire();
    await all;
  }
  const changes = () =>
    (r53.callsOf('changeResourceRecordSets') as ChangeResourceRecordSetsCommandInput[]).map((c) =>
      (c.ChangeBatch?.Changes ?? []).map((ch) => ({ action: ch.Action, name: ch.ResourceRecordSet?.Name, values: ch.ResourceRecordSet?.ResourceRecords?.map((r) => r.Value) })),
    );
  return { r53, dns, changes, burst };
}

describe('Route53 through the batch layer', () => {
  it('the orders of a burst make one ChangeResourceRecordSets per zone', async () => {
    const t = setup();
    const one = t.r53.addZone('one.example');
    const two = t.r53.addZone('two.example');
    const records: TxtRecord[] = Array.from({ length: 20 }, (_, i) => ({ fqdn: `_acme-challenge.h${i}.${i % 2 ? 'one' : 'two'}.example`, value: value(i) }));
    await t.burst(records.map((r) => () => t.dns.present([r])));
    const calls = t.r53.callsOf('changeResourceRecordSets') as ChangeResourceRecordSetsCommandInput[];
    expect(calls.map((c) => [c.HostedZoneId, c.ChangeBatch?.Changes?.length]).sort()).toEqual([[one, 10], [two, 10]]);

    await t.burst(records.map((r) => () => t.dns.cleanUp([r])));
    expect(t.r53.callsOf('changeResourceRecordSets')).toHaveLength(4);
    expect(t.r53.txt(one, '_acme-challenge.h1.one.example')).toBeUndefined();
  });

  it('two orders for one name with different values: one set holding both; a clean-up removes only its value', async () => {
    const t = setup();
    const zone = t.r53.addZone('example.com');
    const name = '_acme-challenge.example.com'; // an apex and its wildcard, ordered apart
    await t.burst([() => t.dns.present([{ fqdn: name, value: 'apex-order' }]), () => t.dns.present([{ fqdn: name, value: 'wildcard-order' }])]);
    // In the order the callers joined, which is either.
    expect(t.changes().map((c) => c.map((ch) => ({ ...ch, values: ch.values?.sort() })))).toEqual([
      [{ action: 'UPSERT', name: `${name}.`, values: ['"apex-order"', '"wildcard-order"'] }],
    ]);
    expect(t.r53.txt(zone, name)?.sort()).toEqual(['"apex-order"', '"wildcard-order"']);

    await t.burst([() => t.dns.cleanUp([{ fqdn: name, value: 'apex-order' }])]);
    expect(t.r53.txt(zone, name)).toEqual(['"wildcard-order"']);
    await t.burst([() => t.dns.cleanUp([{ fqdn: name, value: 'wildcard-order' }])]);
    expect(t.r53.txt(zone, name)).toBeUndefined();
    expect(t.changes().slice(1).map((c) => c.map((ch) => ch.action))).toEqual([['UPSERT'], ['DELETE']]);
  });

  it('a batch beyond 32,000 characters goes out in as few requests as the limits allow', async () => {
    const t = setup();
    const zone = t.r53.addZone('big.example');
    const records = Array.from({ length: 400 }, (_, i) => ({ fqdn: `_acme-challenge.h${i}.big.example`, value: value(i) }));
    await t.burst(records.map((r) => () => t.dns.present([r])));
    expect(t.changes().map((c) => c.length)).toEqual([355, 45]);
    expect(t.r53.txt(zone, '_acme-challenge.h399.big.example')).toEqual([`"${value(399)}"`]);
  });
});
