import { describe, it, expect, afterEach } from 'vitest';
import { Writable } from 'node:stream';
import { isWhisperError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { createRfc2136Provider, type DnsTransport } from '../../../src/dns/rfc2136.js';
import { batchDnsProvider } from '../../../src/dns/batch.js';
import { signMessage, type TsigKey } from '../../../src/dns/tsig.js';
import { encodeMessage, Opcode, Rcode, RRClass, RRType, type DecodedMessage, type DnsMessage, type ResourceRecord } from '../../../src/dns/wire.js';
import { decodeMessage } from '../../../src/dns/wire-decode.js';
import { startFakeDns } from './fake-dns.js';

const key: TsigKey = { name: 'whisper', secret: Buffer.from('0123456789abcdef0123456789abcdef').toString('base64') };
const NOW = 1_800_000_000_000;
const now = (): number => NOW;

interface FakeOptions {
  zones?: string[];
  /** Force this rcode on UPDATEs. */
  updateRcode?: number;
  /** Sign answers (with the request's key), or leave them unsigned, or sign with a wrong MAC. */
  signing?: 'sign' | 'none' | 'corrupt';
}

/** An in-memory authoritative server: SOA queries for its zones and RFC 2136 updates, TSIG like BIND. */
function fakeServer(options: FakeOptions = {}) {
  const zones = options.zones ?? ['example.test', 'sub.example.test'];
  const queries: string[] = [];
  const updates: DecodedMessage[] = [];
  const zoneOf = (name: string): string | undefined =>
    zones.filter((z) => name === z || name.endsWith(`.${z}`)).sort((a, b) => b.length - a.length)[0];
  const soa = (zone: string): ResourceRecord => ({
    name: zone, type: RRType.SOA, class: 1, ttl: 60,
    data: { kind: 'soa', mname: `ns.${zone}`, rname: `h.${zone}`, serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 },
  });
  function handle(packet: Buffer): Buffer {
    const msg = decodeMessage(packet);
    const q = msg.questions[0] ?? { name: '', type: 0, class: 0 };
    let answer: DnsMessage;
    if (msg.opcode === Opcode.QUERY) {
      queries.push(q.name);
      const zone = zoneOf(q.name);
      const base = { ...msg, qr: true, aa: true, additionals: [] };
      if (!zone) answer = { ...base, rcode: Rcode.REFUSED };
      else if (zone === q.name) answer = { ...base, answers: [soa(zone)] };
      else answer = { ...base, rcode: Rcode.NXDOMAIN, authorities: [soa(zone)] };
      return encodeMessage(answer);
    }
    updates.push(msg);
    const rcode = options.updateRcode ?? (zones.includes(q.name) ? Rcode.NOERROR : Rcode.NOTAUTH);
    answer = { ...msg, qr: true, rcode, answers: [], authorities: [], additionals: [] };
    const wire = encodeMessage(answer);
    const tsig = msg.additionals.at(-1)?.data;
    if (tsig?.kind !== 'tsig' || options.signing === 'none') return wire;
    const signed = signMessage(wire, key, { now, requestMac: tsig.mac });
    if (options.signing === 'corrupt') signed.wire.writeUInt8(signed.wire.readUInt8(signed.wire.length - 10) ^ 0xff, signed.wire.length - 10);
    return signed.wire;
  }
  const transport: DnsTransport = (message) => Promise.resolve(handle(message));
  return { queries, updates, handle, transport };
}

const records = [
  { fqdn: '_acme-challenge.www.example.test', value: 'value-1' },
  { fqdn: '_acme-challenge.www.example.test', value: 'value-2' },
  { fqdn: '_acme-challenge.a.sub.example.test', value: 'value-3' },
  { fqdn: '_acme-challenge.www.example.test', value: 'value-1' },
];

const updateRecords = (msg: DecodedMessage) =>
  msg.authorities.map((rr) => ({ name: rr.name, class: rr.class, ttl: rr.ttl, data: rr.data }));

describe('createRfc2136Provider', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('finds each zone by SOA queries and sends one UPDATE per zone adding every value', async () => {
    const fake = fakeServer();
    const provider = createRfc2136Provider({ server: '192.0.2.53', transport: fake.transport, ttl: 30 });
    await provider.present(records);
    expect(fake.queries).toEqual(['_acme-challenge.www.example.test', '_acme-challenge.a.sub.example.test']);
    expect(fake.updates.map((u) => u.questions)).toEqual([
      [{ name: 'example.test', type: RRType.SOA, class: RRClass.IN }],
      [{ name: 'sub.example.test', type: RRType.SOA, class: RRClass.IN }],
    ]);
    expect(updateRecords(fake.updates[0]!)).toEqual([
      { name: '_acme-challenge.www.example.test', class: RRClass.IN, ttl: 30, data: { kind: 'txt', strings: ['value-1'] } },
      { name: '_acme-challenge.www.example.test', class: RRClass.IN, ttl: 30, data: { kind: 'txt', strings: ['value-2'] } },
    ]);
    expect(updateRecords(fake.updates[1]!)).toEqual([
      { name: '_acme-challenge.a.sub.example.test', class: RRClass.IN, ttl: 30, data: { kind: 'txt', strings: ['value-3'] } },
    ]);
    expect(fake.updates.every((u) => u.additionals.length === 0)).toBe(true); // no TSIG configured
  });

  it('cleans up with class NONE, TTL 0 and the same RDATA, and may repeat', async () => {
    const fake = fakeServer();
    const provider = createRfc2136Provider({ server: '192.0.2.53', zone: 'Example.Test.', transport: fake.transport });
    await provider.cleanUp([{ fqdn: '_acme-challenge.x.example.test', value: 'v'.repeat(300) }]);
    await provider.cleanUp([{ fqdn: '_acme-challenge.x.example.test', value: 'v'.repeat(300) }]);
    expect(fake.queries).toEqual([]); // the configured zone needs no lookup
    expect(fake.updates).toHaveLength(2);
    expect(updateRecords(fake.updates[0]!)).toEqual([
      { name: '_acme-challenge.x.example.test', class: RRClass.NONE, ttl: 0, data: { kind: 'txt', strings: ['v'.repeat(255), 'v'.repeat(45)] } },
    ]);
  });

  it('refuses a name outside the configured zone', async () => {
    const provider = createRfc2136Provider({ server: '192.0.2.53', zone: 'example.test', transport: fakeServer().transport });
    await expect(provider.present([{ fqdn: 'www.other.test', value: 'v' }])).rejects.toMatchObject({ code: 'DNS_ZONE_NOT_FOUND' });
    await expect(provider.present([{ fqdn: 'badexample.test', value: 'v' }])).rejects.toMatchObject({ code: 'DNS_ZONE_NOT_FOUND' });
  });

  it('walks up to the root and reports a name no zone holds', async () => {
    const fake = fakeServer();
    const provider = createRfc2136Provider({ server: '192.0.2.53', transport: fake.transport });
    const err: unknown = await provider.present([{ fqdn: 'a.b.other.test', value: 'v' }]).catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_ZONE_NOT_FOUND')).toBe(true);
    expect(fake.queries).toEqual(['a.b.other.test', 'b.other.test', 'other.test', 'test']);
  });

  it('names the rcode and the zone, retryable only for SERVFAIL', async () => {
    for (const [rcode, name, retryable] of [[Rcode.REFUSED, 'REFUSED', false], [Rcode.NOTAUTH, 'NOTAUTH', false], [Rcode.NOTZONE, 'NOTZONE', false], [Rcode.SERVFAIL, 'SERVFAIL', true]] as const) {
      const provider = createRfc2136Provider({ server: '192.0.2.53:5300', zone: 'example.test', transport: fakeServer({ updateRcode: rcode }).transport });
      const err: unknown = await provider.present([records[0]!]).catch((e: unknown) => e);
      expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
      expect((err as Error).message).toBe(`RFC 2136 update (add) of zone example.test at 192.0.2.53:5300: server answered ${name}`);
      expect((err as { retryable: boolean }).retryable).toBe(retryable);
    }
  });

  it('passes a transport timeout on as retryable', async () => {
    const { WhisperError } = await import('../../../src/errors.js');
    const transport: DnsTransport = () => Promise.reject(new WhisperError('DNS_PROVIDER', 'no answer within 5 ms', { retryable: true }));
    const provider = createRfc2136Provider({ server: '192.0.2.53', zone: 'example.test', transport });
    await expect(provider.present([records[0]!])).rejects.toMatchObject({ code: 'DNS_PROVIDER', retryable: true });
  });

  it('signs updates with TSIG and verifies the signed answer', async () => {
    const fake = fakeServer();
    const provider = createRfc2136Provider({ server: '192.0.2.53', tsig: key, now, transport: fake.transport });
    await provider.present(records);
    expect(fake.updates).toHaveLength(2);
    for (const update of fake.updates) {
      expect(update.additionals.at(-1)).toMatchObject({ name: 'whisper', type: RRType.TSIG, data: { algorithm: 'hmac-sha256', timeSigned: NOW / 1000 } });
    }
    expect(fake.queries).toHaveLength(2); // SOA lookups are not signed and still worked
  });

  it('fails when a signed update gets an answer with a bad MAC or no signature', async () => {
    for (const signing of ['corrupt', 'none'] as const) {
      const provider = createRfc2136Provider({ server: '192.0.2.53', zone: 'example.test', tsig: key, now, transport: fakeServer({ signing }).transport });
      const err: unknown = await provider.present([records[0]!]).catch((e: unknown) => e);
      expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
      expect((err as Error).message).toMatch(signing === 'corrupt' ? /does not verify/ : /not TSIG-signed/);
    }
  });

  it('reports the rcode of an unsigned error answer to a signed update', async () => {
    const fake = fakeServer({ signing: 'none', updateRcode: Rcode.REFUSED });
    const provider = createRfc2136Provider({ server: '192.0.2.53', zone: 'example.test', tsig: key, now, transport: fake.transport });
    await expect(provider.cleanUp([records[0]!])).rejects.toThrow(/server answered REFUSED/);
  });

  it('rejects an unknown TSIG algorithm when created', () => {
    expect(() => createRfc2136Provider({ server: '192.0.2.53', tsig: { ...key, algorithm: 'hmac-sha3' } })).toThrow(/unknown TSIG algorithm/);
  });

  it('gives its server as the name server to check', async () => {
    const provider = createRfc2136Provider({ server: '192.0.2.53:5300' });
    expect(provider.name).toBe('rfc2136');
    expect(await provider.nameservers?.('x.example.test')).toEqual(['192.0.2.53:5300']);
  });

  it('works over real UDP and never logs the values or the secret', async () => {
    const fake = fakeServer();
    const srv = await startFakeDns((packet) => fake.handle(packet));
    closers.push(srv.close);
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) });
    const log = createLogger({ debug: true, destination });
    const provider = createRfc2136Provider({ server: `127.0.0.1:${srv.port}`, tsig: key, now, log });
    await provider.present(records);
    await provider.cleanUp(records);
    expect(fake.updates.map((u) => u.authorities.length)).toEqual([2, 1, 2, 1]);
    expect(lines.length).toBeGreaterThan(0);
    const logged = lines.join('');
    expect(logged).toContain('_acme-challenge.www.example.test');
    for (const secret of ['value-1', 'value-2', 'value-3', key.secret]) expect(logged).not.toContain(secret);
  });
});

describe('createRfc2136Provider in batches', () => {
  it('its batch key is the zone, found once per name: the update after it asks no more', async () => {
    const fake = fakeServer();
    let t = NOW;
    const provider = createRfc2136Provider({ server: '192.0.2.53', transport: fake.transport, now: () => t, zoneCacheMs: 60_000 });
    expect(await provider.batchKey!('_acme-challenge.www.example.test')).toBe('example.test');
    expect(await provider.batchKey!('_acme-challenge.a.SUB.example.test.')).toBe('sub.example.test');
    await provider.present(records);
    expect(fake.queries).toEqual(['_acme-challenge.www.example.test', '_acme-challenge.a.sub.example.test']);
    t += 60_001; // forgotten after zoneCacheMs
    await provider.cleanUp([records[0]!]);
    expect(fake.queries).toHaveLength(3);
  });

  it('the orders of a burst share one UPDATE per zone', async () => {
    const fake = fakeServer();
    const provider = createRfc2136Provider({ server: '192.0.2.53', zone: 'example.test', transport: fake.transport });
    const dns = batchDnsProvider(provider, { windowMs: 5, cleanUpWindowMs: 5 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => dns.present([{ fqdn: `_acme-challenge.h${i}.example.test`, value: `value-${i}` }])));
    expect(fake.updates.map((u) => u.authorities.length)).toEqual([20]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => dns.cleanUp([{ fqdn: `_acme-challenge.h${i}.example.test`, value: `value-${i}` }])));
    expect(fake.updates.map((u) => u.authorities.length)).toEqual([20, 20]);
  });

  it('cuts an UPDATE too large for one DNS message in parts that fit', async () => {
    const sizes: number[] = [];
    const fake = fakeServer();
    const transport: DnsTransport = (message, server, opts) => {
      sizes.push(message.length);
      return fake.transport(message, server, opts);
    };
    const provider = createRfc2136Provider({ server: '192.0.2.53', zone: 'example.test', transport, tsig: key, now });
    const many = Array.from({ length: 1500 }, (_, i) => ({ fqdn: `_acme-challenge.host-number-${i}.example.test`, value: `${i}`.padEnd(43, 'x') }));
    await provider.present(many);
    expect(fake.updates.length).toBeGreaterThan(1);
    expect(fake.updates.reduce((n, u) => n + u.authorities.length, 0)).toBe(1500);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(65_535);
  });
});
