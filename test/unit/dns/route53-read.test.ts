import { describe, it, expect } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRoute53Provider } from '../../../src/dns/route53.js';
import { listTxtSets, readPlan, readTxtSets } from '../../../src/dns/route53-read.js';
import { FakeRoute53, fakeClock } from './fake-route53.js';

const ZONE = 'example.com';

/** A zone holding `others` A records besides the challenge sets. */
function zoneWith(others: number) {
  const r53 = new FakeRoute53();
  const id = r53.addZone(ZONE);
  for (let i = 0; i < others; i++) {
    r53.sets.get(id)!.push({ Name: `host${i}.${ZONE}.`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.1' }] });
  }
  return { r53, id };
}

describe('readPlan', () => {
  it('lists the zone when its pages are fewer than the names, else reads each name', () => {
    expect(readPlan(1, { recordCount: 2 })).toBe('each');
    expect(readPlan(2, { recordCount: 2 })).toBe('zone'); // one page against two reads
    expect(readPlan(2, { recordCount: 700 })).toBe('each'); // three pages against two reads
    expect(readPlan(64, { recordCount: 5_000 })).toBe('zone'); // 17 pages
    expect(readPlan(10, { recordCount: 5_000 })).toBe('each');
    expect(readPlan(64, {})).toBe('each'); // size unknown: never more than a call per name
  });
});

describe('reading TXT sets', () => {
  it('finds every wanted TXT set over several pages and nothing else', async () => {
    const { r53, id } = zoneWith(650);
    r53.setTxt(id, `_acme-challenge.a.${ZONE}`, ['"one"', '"two"']);
    r53.setTxt(id, `_acme-challenge.z.${ZONE}`, ['"last"']);
    r53.setTxt(id, `_acme-challenge.other.${ZONE}`, ['"not asked"']);
    const sets = await listTxtSets(r53.api(), { id, name: ZONE }, [`_acme-challenge.a.${ZONE}`, `_acme-challenge.z.${ZONE}`, `_acme-challenge.none.${ZONE}`]);
    expect([...sets.keys()].sort()).toEqual([`_acme-challenge.a.${ZONE}`, `_acme-challenge.z.${ZONE}`]);
    expect(sets.get(`_acme-challenge.a.${ZONE}`)?.records).toEqual(['"one"', '"two"']);
    expect(r53.callsOf('listResourceRecordSets')).toHaveLength(3); // 653 sets, 300 per page
  });

  it('reads name by name when that is fewer calls', async () => {
    const { r53, id } = zoneWith(2_000);
    r53.setTxt(id, `_acme-challenge.a.${ZONE}`, ['"one"']);
    const names = [`_acme-challenge.a.${ZONE}`, `_acme-challenge.b.${ZONE}`];
    const sets = await readTxtSets(r53.api(), { id, name: ZONE, recordCount: 2_001 }, names);
    expect(sets.get(names[0]!)?.records).toEqual(['"one"']);
    expect(sets.has(names[1]!)).toBe(false);
    expect(r53.callsOf('listResourceRecordSets')).toHaveLength(2);
  });

  it('a burst of 40 names in a small zone costs one listing, not 40 reads, and keeps values already there', async () => {
    const { r53, id } = zoneWith(20);
    r53.setTxt(id, `_acme-challenge.h0.${ZONE}`, ['"kept"']);
    const clock = fakeClock();
    const dns = createRoute53Provider({
      credentialsFile: join(tmpdir(), 'whisper-ts-no-such-credentials-file'),
      configFile: join(tmpdir(), 'whisper-ts-no-such-config-file'),
      clientFor: () => r53.api(),
      sleep: clock.sleep,
      now: clock.now,
    });
    const records = Array.from({ length: 40 }, (_, i) => ({ fqdn: `_acme-challenge.h${i}.${ZONE}`, value: `v${i}` }));
    await dns.present(records);
    expect(r53.callsOf('listResourceRecordSets')).toHaveLength(1);
    expect(r53.callsOf('changeResourceRecordSets')).toHaveLength(1);
    expect(r53.txt(id, `_acme-challenge.h0.${ZONE}`)).toEqual(['"kept"', '"v0"']);
    await dns.cleanUp(records);
    expect(r53.callsOf('listResourceRecordSets')).toHaveLength(2);
    expect(r53.txt(id, `_acme-challenge.h0.${ZONE}`)).toEqual(['"kept"']);
    expect(r53.txt(id, `_acme-challenge.h1.${ZONE}`)).toBeUndefined();
  });
});
