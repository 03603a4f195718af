import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { buildQuery, buildUpdate, encodeMessage, encodeName, Opcode, rcodeName, RRClass, RRType, splitTxt, txtData, typeFromName, typeName, type DnsMessage } from '../../../src/dns/wire.js';
import { decodeMessage, readName } from '../../../src/dns/wire-decode.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Answers of a real BIND 9.18 (captured once), with name compression.
const bindSoaAnswer = hex(
  '424284000001000100010001076578616d706c6504746573740000060001c00c000600010000003c0026026e73c00c0a686f73746d6173746572c00c' +
    '0000000a00000e1000000258000151800000003cc00c000200010000003c0002c02ac02a000100010000003c00047f000001',
);
const bindNxdomain = hex(
  '424284030001000000010000046e6f7065076578616d706c6504746573740000010001c011000600010000003c0026026e73c0110a686f73746d61737465' +
    '72c0110000000a00000e1000000258000151800000003c',
);
// An UPDATE sent by BIND's nsupdate (add one TXT, delete another), TSIG-signed.
const nsupdatePacket = hex(
  'd52928000001000000020001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e676503777777076578616d706c6504746573' +
    '7400001000010000003c000d0c766563746f722d76616c7565c01e001000fe00000000000a096f6c642d76616c756502746b0000fa00ff00000000003d0b' +
    '686d61632d7368613235360000006b04a48e012c0020ebf226d4ee91df61a1eb4b2dbade79e7b249c40eb0a9d84ca133a3a094408027d52900000000',
);

function expectMalformed(buf: Buffer, pattern: RegExp): void {
  let caught: unknown;
  try {
    decodeMessage(buf);
  } catch (err) {
    caught = err;
  }
  expect(isWhisperError(caught, 'DNS_PROVIDER')).toBe(true);
  expect((caught as Error).message).toMatch(/^malformed DNS message: /);
  expect((caught as Error).message).toMatch(pattern);
}

describe('names', () => {
  it('encodes labels with a root terminator, with or without the trailing dot', () => {
    expect(encodeName('a.bc')).toEqual(hex('0161026263' + '00'));
    expect(encodeName('a.bc.')).toEqual(encodeName('a.bc'));
    expect(encodeName('')).toEqual(hex('00'));
  });

  it('rejects empty labels, labels over 63 bytes and names over 255 bytes', () => {
    expect(() => encodeName('a..b')).toThrow(/label of 0 bytes/);
    expect(() => encodeName(`${'x'.repeat(64)}.test`)).toThrow(/label of 64 bytes/);
    expect(() => encodeName(Array(64).fill('abc').join('.'))).toThrow(/longer than 255/);
  });

  it('follows compression pointers and reports the offset after the pointer', () => {
    const [name, next] = readName(bindSoaAnswer, 0x2a); // "ns" + pointer to the question name
    expect(name).toBe('ns.example.test');
    expect(next).toBe(0x2a + 3 + 2);
  });
});

describe('decodeMessage', () => {
  it('decodes a compressed SOA answer from BIND', () => {
    const msg = decodeMessage(bindSoaAnswer);
    expect(msg).toMatchObject({ id: 0x4242, qr: true, opcode: 0, aa: true, rcode: 0 });
    expect(msg.questions).toEqual([{ name: 'example.test', type: RRType.SOA, class: RRClass.IN }]);
    expect(msg.answers).toEqual([
      {
        name: 'example.test', type: RRType.SOA, class: 1, ttl: 60,
        data: { kind: 'soa', mname: 'ns.example.test', rname: 'hostmaster.example.test', serial: 10, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
      },
    ]);
    expect(msg.authorities).toEqual([{ name: 'example.test', type: RRType.NS, class: 1, ttl: 60, data: { kind: 'name', name: 'ns.example.test' } }]);
    expect(msg.additionals).toEqual([{ name: 'ns.example.test', type: RRType.A, class: 1, ttl: 60, data: { kind: 'address', address: '127.0.0.1' } }]);
    expect(msg.tsigOffset).toBeUndefined();
  });

  it('decodes an NXDOMAIN with the SOA in the authority section', () => {
    const msg = decodeMessage(bindNxdomain);
    expect(rcodeName(msg.rcode)).toBe('NXDOMAIN');
    expect(msg.answers).toEqual([]);
    expect(msg.authorities.map((rr) => [rr.name, typeName(rr.type)])).toEqual([['example.test', 'SOA']]);
  });

  it('decodes an nsupdate UPDATE: zone, add (IN), delete (NONE, ttl 0) and the TSIG position', () => {
    const msg = decodeMessage(nsupdatePacket);
    expect(msg.opcode).toBe(Opcode.UPDATE);
    expect(msg.questions).toEqual([{ name: 'example.test', type: RRType.SOA, class: RRClass.IN }]);
    expect(msg.authorities).toEqual([
      { name: '_acme-challenge.www.example.test', type: RRType.TXT, class: RRClass.IN, ttl: 60, data: { kind: 'txt', strings: ['vector-value'] } },
      { name: '_acme-challenge.www.example.test', type: RRType.TXT, class: RRClass.NONE, ttl: 0, data: { kind: 'txt', strings: ['old-value'] } },
    ]);
    const tsig = msg.additionals[0];
    expect(tsig?.type).toBe(RRType.TSIG);
    expect(tsig?.data).toMatchObject({ kind: 'tsig', algorithm: 'hmac-sha256', fudge: 300, originalId: 0xd529, error: 0 });
    expect(msg.tsigOffset).toBe(nsupdatePacket.indexOf(hex('02746b00')));
  });

  it('round-trips every record kind', () => {
    const msg: DnsMessage = {
      id: 7, qr: true, opcode: 0, aa: true, tc: true, rd: true, ra: true, rcode: 3,
      questions: [{ name: 'x.example', type: RRType.ANY, class: RRClass.IN }],
      answers: [
        { name: 'x.example', type: RRType.A, class: 1, ttl: 5, data: { kind: 'address', address: '192.0.2.7' } },
        { name: 'x.example', type: RRType.AAAA, class: 1, ttl: 5, data: { kind: 'address', address: '2001:db8:0:0:0:0:0:1' } },
        { name: 'x.example', type: RRType.CNAME, class: 1, ttl: 5, data: { kind: 'name', name: 'y.example' } },
        { name: 'x.example', type: RRType.TXT, class: 1, ttl: 5, data: { kind: 'txt', strings: ['a', '', 'ünï'] } },
        { name: 'x.example', type: 99, class: 1, ttl: 5, data: { kind: 'raw', bytes: hex('0102') } },
      ],
      authorities: [
        { name: 'example', type: RRType.SOA, class: 1, ttl: 5, data: { kind: 'soa', mname: 'ns.example', rname: 'h.example', serial: 4294967295, refresh: 1, retry: 2, expire: 3, minimum: 4 } },
      ],
      additionals: [{ name: '', type: RRType.OPT, class: 1232, ttl: 0, data: { kind: 'raw', bytes: Buffer.alloc(0) } }],
    };
    const decoded = decodeMessage(encodeMessage(msg));
    expect({ ...decoded, answers: decoded.answers.filter((rr) => rr.type !== RRType.AAAA) }).toEqual({
      ...msg, answers: msg.answers.filter((rr) => rr.type !== RRType.AAAA),
    });
    expect(decoded.answers[1]?.data).toEqual({ kind: 'address', address: '2001:db8:0:0:0:0:0:1' });
    expect(encodeMessage({ ...msg, answers: [{ ...msg.answers[1]!, data: { kind: 'address', address: '2001:db8::1' } }] }))
      .toEqual(encodeMessage({ ...msg, answers: [msg.answers[1]!] }));
  });

  it('rejects a truncated header, a record past the end and a wrong RDATA length', () => {
    expectMalformed(hex('4242'), /header runs past the end/);
    expectMalformed(bindSoaAnswer.subarray(0, bindSoaAnswer.length - 2), /past the end/);
    const bad = Buffer.from(bindNxdomain);
    bad.writeUInt16BE(0x25, 0x2d); // SOA RDLENGTH one less than its content
    expectMalformed(bad, /past the end|does not match/);
  });

  it('rejects pointer loops, forward pointers and over-long names without hanging', () => {
    const header = hex('000100000001000000000000');
    expectMalformed(Buffer.concat([header, hex('c00c'), hex('00010001')]), /does not point backwards/);
    expectMalformed(Buffer.concat([header, hex('c00e'), hex('0000'), hex('00010001')]), /does not point backwards/);
    // "a" then a pointer back to it: a loop that only the length limit can stop
    expectMalformed(Buffer.concat([header, hex('0161c00c'), hex('00010001')]), /longer than 255|too many pointers/);
    expectMalformed(Buffer.concat([header, hex('0561')]), /label at offset 12 runs past the end/);
    expectMalformed(Buffer.concat([header, hex('4161')]), /unsupported label type/);
  });

  it('rejects random garbage with a clear error, never anything else', () => {
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 500; i++) {
      const buf = Buffer.from(Array.from({ length: 12 + (i % 60) }, rand));
      try {
        decodeMessage(buf);
      } catch (err) {
        expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
      }
    }
  });
});

describe('TXT', () => {
  it('splits a value into 255-byte character-strings', () => {
    expect(splitTxt('abc')).toEqual(['abc']);
    expect(splitTxt('')).toEqual(['']);
    const long = 'x'.repeat(600);
    expect(splitTxt(long).map((s) => s.length)).toEqual([255, 255, 90]);
    expect(splitTxt(long).join('')).toBe(long);
  });

  it('never splits inside a UTF-8 character', () => {
    const value = `${'x'.repeat(254)}é${'y'.repeat(10)}`;
    const parts = splitTxt(value);
    expect(parts).toEqual(['x'.repeat(254), `é${'y'.repeat(10)}`]);
    expect(parts.every((p) => Buffer.byteLength(p) <= 255)).toBe(true);
  });

  it('encodes a long value as several strings in one record', () => {
    const msg = buildUpdate({ id: 1, zone: 'z', add: [{ name: 'a.z', type: RRType.TXT, data: txtData('q'.repeat(300)) }] });
    const rr = decodeMessage(encodeMessage(msg)).authorities[0];
    expect(rr?.data).toEqual({ kind: 'txt', strings: ['q'.repeat(255), 'q'.repeat(45)] });
  });

  it('refuses to encode a single character-string over 255 bytes', () => {
    const msg = buildUpdate({ id: 1, zone: 'z', add: [{ name: 'a.z', type: RRType.TXT, data: { kind: 'txt', strings: ['q'.repeat(256)] } }] });
    expect(() => encodeMessage(msg)).toThrow(/longer than 255/);
  });
});

describe('buildUpdate and buildQuery', () => {
  it('matches what nsupdate sends, apart from compression and the TSIG', () => {
    const ours = buildUpdate({
      id: 0xd529, zone: 'example.test', ttl: 60,
      add: [{ name: '_acme-challenge.www.example.test', type: RRType.TXT, data: txtData('vector-value') }],
      delete: [{ name: '_acme-challenge.www.example.test', type: RRType.TXT, data: txtData('old-value') }],
    });
    const theirs = decodeMessage(nsupdatePacket);
    const decoded = decodeMessage(encodeMessage(ours));
    expect(decoded.questions).toEqual(theirs.questions);
    expect(decoded.authorities.map((rr) => rr.class).sort()).toEqual(theirs.authorities.map((rr) => rr.class).sort());
    expect(new Set(decoded.authorities.map((rr) => JSON.stringify(rr)))).toEqual(new Set(theirs.authorities.map((rr) => JSON.stringify(rr))));
    expect(decoded).toMatchObject({ id: 0xd529, qr: false, opcode: Opcode.UPDATE, answers: [], additionals: [] });
    // header: id, flags 0x2800 (opcode 5), ZOCOUNT 1, PRCOUNT 0, UPCOUNT 2, ADCOUNT 0
    expect(encodeMessage(ours).subarray(0, 12)).toEqual(hex('d52928000001000000020000'));
  });

  it('builds a plain query', () => {
    expect(encodeMessage(buildQuery(0x4242, 'example.test', RRType.SOA))).toEqual(
      hex('424200000001000000000000076578616d706c6504746573740000060001'),
    );
  });

  it('maps type names both ways', () => {
    expect(typeFromName('txt')).toBe(16);
    expect(typeFromName('TYPE65')).toBe(65);
    expect(typeFromName('nope')).toBeUndefined();
    expect(typeName(16)).toBe('TXT');
    expect(typeName(65)).toBe('TYPE65');
    expect(rcodeName(9)).toBe('NOTAUTH');
    expect(rcodeName(15)).toBe('RCODE15');
  });
});
