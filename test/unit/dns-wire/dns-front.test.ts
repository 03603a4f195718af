import { describe, it, expect, afterEach } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { createMemorySource, dnsQuery, parseTxtValue, startDnsFront, type DnsFrontOptions, type RRset } from '../../support/dns-front.js';
import { parseServer, sendUdp } from '../../../src/dns/transport.js';
import { buildQuery, buildUpdate, encodeMessage, Rcode, RRType, type DecodedMessage } from '../../../src/dns/wire.js';
import { decodeMessage } from '../../../src/dns/wire-decode.js';
import { startFakeDns } from './fake-dns.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function zoneData(): Map<string, RRset[]> {
  return new Map([
    ['front.test', [
      { name: 'front.test.', type: 'NS', ttl: 60, values: ['ns1.front.test.'] },
      { name: '_acme-challenge.www.front.test.', type: 'TXT', ttl: 60, values: ['"abc" "d\\"e\\\\f"', 'bare text'] },
      { name: 'a.b.front.test', type: 'A', ttl: 30, values: ['192.0.2.1'] },
      { name: '\\052.wild.front.test.', type: 'A', ttl: 60, values: ['192.0.2.9'] },
      { name: 'alias.front.test.', type: 'CNAME', ttl: 60, values: ['a.b.front.test.'] },
      { name: 'out.front.test.', type: 'CNAME', ttl: 60, values: ['elsewhere.example.'] },
      { name: 'big.front.test.', type: 'TXT', ttl: 60, values: Array.from({ length: 20 }, (_, i) => `"${String(i).padStart(40, 'x')}"`) },
    ]],
    ['with-soa.test', [
      { name: 'with-soa.test.', type: 'SOA', ttl: 900, values: ['ns.with-soa.test. admin.with-soa.test. 7 7200 900 1209600 300'] },
    ]],
  ]);
}

async function front(options: Partial<DnsFrontOptions> & { zones?: Map<string, RRset[]> } = {}) {
  const zones = options.zones ?? zoneData();
  const f = await startDnsFront({ source: createMemorySource(zones), ...options });
  closers.push(f.close);
  return { ...f, zones };
}

const answersOf = (m: DecodedMessage) => m.answers.map((rr) => [rr.name, rr.type, rr.data]);
const soaOwner = (m: DecodedMessage) => m.authorities.filter((rr) => rr.type === RRType.SOA).map((rr) => rr.name);

describe('parseTxtValue', () => {
  it('reads quoted strings with escapes, and bare text as one value', () => {
    expect(parseTxtValue('"abc" "def"')).toEqual(['abc', 'def']);
    expect(parseTxtValue('"a\\"b\\\\c" "\\052"')).toEqual(['a"b\\c', '*']);
    expect(parseTxtValue('"with space"')).toEqual(['with space']);
    expect(parseTxtValue('plain')).toEqual(['plain']);
    expect(parseTxtValue('z'.repeat(300))).toEqual(['z'.repeat(255), 'z'.repeat(45)]);
  });
});

describe('startDnsFront', () => {
  for (const tcp of [false, true]) {
    it(`answers TXT, NXDOMAIN and NODATA authoritatively over ${tcp ? 'TCP' : 'UDP'}`, async () => {
      const f = await front();
      const txt = await dnsQuery(f.addr, '_acme-challenge.WWW.front.test', 'TXT', { tcp });
      expect(txt).toMatchObject({ rcode: Rcode.NOERROR, aa: true, qr: true });
      expect(txt.questions[0]?.name).toBe('_acme-challenge.WWW.front.test');
      expect(answersOf(txt)).toEqual([
        ['_acme-challenge.www.front.test', RRType.TXT, { kind: 'txt', strings: ['abc', 'd"e\\f'] }],
        ['_acme-challenge.www.front.test', RRType.TXT, { kind: 'txt', strings: ['bare text'] }],
      ]);
      const nx = await dnsQuery(f.addr, 'nope.front.test', 'A', { tcp });
      expect(nx.rcode).toBe(Rcode.NXDOMAIN);
      expect(nx.answers).toEqual([]);
      expect(soaOwner(nx)).toEqual(['front.test']);
      const nodata = await dnsQuery(f.addr, 'a.b.front.test', 'TXT', { tcp });
      expect(nodata.rcode).toBe(Rcode.NOERROR);
      expect(nodata.answers).toEqual([]);
      expect(soaOwner(nodata)).toEqual(['front.test']);
    });
  }

  it('treats an empty non-terminal as existing (NODATA, not NXDOMAIN)', async () => {
    const f = await front();
    const ent = await dnsQuery(f.addr, 'b.front.test', 'A');
    expect(ent.rcode).toBe(Rcode.NOERROR);
    expect(soaOwner(ent)).toEqual(['front.test']);
  });

  it('answers the apex SOA: the zone\'s own, or a synthesized one', async () => {
    const f = await front();
    const own = await dnsQuery(f.addr, 'with-soa.test', 'SOA');
    expect(answersOf(own)).toEqual([['with-soa.test', RRType.SOA, { kind: 'soa', mname: 'ns.with-soa.test', rname: 'admin.with-soa.test', serial: 7, refresh: 7200, retry: 900, expire: 1209600, minimum: 300 }]]);
    const synth = await dnsQuery(f.addr, 'front.test', 'SOA');
    expect(synth.answers[0]).toMatchObject({ name: 'front.test', type: RRType.SOA, data: { kind: 'soa', mname: 'ns.front.test' } });
    const ns = await dnsQuery(f.addr, 'front.test', 'NS');
    expect(answersOf(ns)).toEqual([['front.test', RRType.NS, { kind: 'name', name: 'ns1.front.test' }]]);
  });

  it('follows CNAMEs inside the zone, answers CNAME queries with the CNAME, and serves wildcards', async () => {
    const f = await front();
    expect(answersOf(await dnsQuery(f.addr, 'alias.front.test', 'A'))).toEqual([
      ['alias.front.test', RRType.CNAME, { kind: 'name', name: 'a.b.front.test' }],
      ['a.b.front.test', RRType.A, { kind: 'address', address: '192.0.2.1' }],
    ]);
    expect(answersOf(await dnsQuery(f.addr, 'alias.front.test', 'CNAME'))).toHaveLength(1);
    expect(answersOf(await dnsQuery(f.addr, 'out.front.test', 'TXT'))).toEqual([
      ['out.front.test', RRType.CNAME, { kind: 'name', name: 'elsewhere.example' }],
    ]);
    expect(answersOf(await dnsQuery(f.addr, 'x.y.wild.front.test', 'A'))).toEqual([
      ['x.y.wild.front.test', RRType.A, { kind: 'address', address: '192.0.2.9' }],
    ]);
  });

  it('reads the source on every query: changes show at once', async () => {
    const f = await front();
    const name = '_acme-challenge.new.front.test';
    expect((await dnsQuery(f.addr, name, 'TXT')).rcode).toBe(Rcode.NXDOMAIN);
    f.zones.get('front.test')?.push({ name, type: 'TXT', ttl: 60, values: ['"fresh"'] });
    expect(answersOf(await dnsQuery(f.addr, name, 'TXT'))).toEqual([[name, RRType.TXT, { kind: 'txt', strings: ['fresh'] }]]);
    f.zones.set('front.test', (f.zones.get('front.test') ?? []).filter((set) => set.name !== name));
    expect((await dnsQuery(f.addr, name, 'TXT')).rcode).toBe(Rcode.NXDOMAIN);
  });

  it('sets TC on a UDP answer over 512 bytes, and the client gets it all over TCP', async () => {
    const f = await front();
    const udp = decodeMessage(await sendUdp(encodeMessage(buildQuery(5, 'big.front.test', RRType.TXT)), parseServer(f.addr)));
    expect(udp.tc).toBe(true);
    expect(udp.answers).toEqual([]);
    expect(udp.questions[0]?.name).toBe('big.front.test');
    expect((await dnsQuery(f.addr, 'big.front.test', 'TXT')).answers).toHaveLength(20);
  });

  it('relays other names to the longest matching forward zone, then the default, over the same transport', async () => {
    const seen: string[] = [];
    const upstream = (label: string) => startFakeDns((packet, transport) => {
      const q = decodeMessage(packet);
      seen.push(`${label}/${transport}/${q.questions[0]?.name ?? ''}`);
      return encodeMessage({ ...q, qr: true, answers: [{ name: q.questions[0]?.name ?? '', type: RRType.TXT, class: 1, ttl: 1, data: { kind: 'txt', strings: [label] } }] });
    });
    const [bind, deep, fallback] = await Promise.all([upstream('bind'), upstream('deep'), upstream('default')]);
    closers.push(bind.close, deep.close, fallback.close);
    const f = await front({
      forward: [
        { zone: 'bind.test', server: `127.0.0.1:${bind.port}` },
        { zone: 'deep.bind.test', server: `127.0.0.1:${deep.port}` },
        { zone: 'sub.front.test', server: `127.0.0.1:${deep.port}` }, // more specific than a source zone: it wins
      ],
      defaultForward: `127.0.0.1:${fallback.port}`,
    });
    const txt = async (name: string, tcp = false) => (await dnsQuery(f.addr, name, 'TXT', { tcp })).answers[0]?.data;
    expect(await txt('a.bind.test')).toEqual({ kind: 'txt', strings: ['bind'] });
    expect(await txt('x.deep.bind.test', true)).toEqual({ kind: 'txt', strings: ['deep'] });
    expect(await txt('q.sub.front.test')).toEqual({ kind: 'txt', strings: ['deep'] });
    expect(await txt('anything.else')).toEqual({ kind: 'txt', strings: ['default'] });
    expect(seen).toEqual(['bind/udp/a.bind.test', 'deep/tcp/x.deep.bind.test', 'deep/udp/q.sub.front.test', 'default/udp/anything.else']);
  });

  it('refuses names it neither holds nor forwards, and answers SERVFAIL when the upstream is down', async () => {
    const f = await front();
    expect((await dnsQuery(f.addr, 'www.example.com', 'A')).rcode).toBe(Rcode.REFUSED);
    const dead = await startFakeDns(() => undefined);
    await dead.close();
    const g = await front({ defaultForward: `127.0.0.1:${dead.port}`, forwardTimeoutMs: 200 });
    expect((await dnsQuery(g.addr, 'www.example.com', 'A', { tcp: true })).rcode).toBe(Rcode.SERVFAIL);
  });

  it('answers SERVFAIL when the source fails, NOTIMP to an UPDATE', async () => {
    const f = await startDnsFront({ source: { zones: () => Promise.reject(new Error('moto down')), rrsets: () => Promise.resolve([]) } });
    closers.push(f.close);
    expect((await dnsQuery(f.addr, 'a.front.test', 'A')).rcode).toBe(Rcode.SERVFAIL);
    const g = await front();
    const update = await sendUdp(encodeMessage(buildUpdate({ id: 3, zone: 'front.test' })), parseServer(g.addr));
    expect(decodeMessage(update).rcode).toBe(Rcode.NOTIMP);
  });

  it('drops malformed packets and keeps serving, over UDP and TCP', async () => {
    const f = await front();
    const { host, port } = parseServer(f.addr);
    const socket = createSocket('udp4');
    const first = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    await new Promise<void>((resolve) => socket.connect(port, host, resolve));
    const pointerLoop = Buffer.from('000100000001000000000000c00c00010001', 'hex');
    for (const junk of [Buffer.from('ff'), pointerLoop, Buffer.alloc(12, 0xff)]) socket.send(junk);
    socket.send(encodeMessage(buildQuery(0x7777, 'a.b.front.test', RRType.A)));
    const reply = decodeMessage(await first);
    socket.close();
    expect(reply.id).toBe(0x7777); // the junk got no answer: the first reply is the valid query's
    const tcpJunk = connect(port, host);
    await new Promise<void>((resolve) => tcpJunk.once('connect', resolve));
    tcpJunk.write(Buffer.concat([Buffer.from([0, pointerLoop.length]), pointerLoop]));
    tcpJunk.end();
    expect((await dnsQuery(f.addr, 'a.b.front.test', 'A', { tcp: true })).answers).toHaveLength(1);
  });

  it('echoes EDNS when the query has it', async () => {
    const f = await front();
    const query = buildQuery(9, 'a.b.front.test', RRType.A);
    const withOpt = { ...query, additionals: [{ name: '', type: RRType.OPT, class: 4096, ttl: 0, data: { kind: 'raw' as const, bytes: Buffer.alloc(0) } }] };
    const reply = decodeMessage(await sendUdp(encodeMessage(withOpt), parseServer(f.addr)));
    expect(reply.additionals.map((rr) => rr.type)).toEqual([RRType.OPT]);
    expect(reply.answers).toHaveLength(1);
  });
});
