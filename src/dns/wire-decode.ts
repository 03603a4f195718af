import { WhisperError } from '../errors.js';
import { RRType, typeName, type DecodedMessage, type Question, type RData, type ResourceRecord } from './wire.js';

function malformed(what: string): WhisperError {
  return new WhisperError('DNS_PROVIDER', `malformed DNS message: ${what}`);
}

/** A reader over a packet; every read is bounds-checked and throws a `malformed` error past the end. */
function reader(buf: Buffer) {
  let pos = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > buf.length) throw malformed(`${what} runs past the end at offset ${pos}`);
  };
  const r = {
    get pos(): number { return pos; },
    u8(what: string): number { need(1, what); return buf.readUInt8(pos++); },
    u16(what: string): number { need(2, what); const v = buf.readUInt16BE(pos); pos += 2; return v; },
    u32(what: string): number { need(4, what); const v = buf.readUInt32BE(pos); pos += 4; return v; },
    u48(what: string): number { need(6, what); const v = buf.readUIntBE(pos, 6); pos += 6; return v; },
    bytes(n: number, what: string): Buffer { need(n, what); const b = Buffer.from(buf.subarray(pos, pos + n)); pos += n; return b; },
    name(): string {
      const [name, next] = readName(buf, pos);
      pos = next;
      return name;
    },
  };
  return r;
}
type Reader = ReturnType<typeof reader>;

/**
 * Reads a possibly compressed name at `start`; returns it and the offset after it.
 * A pointer must point strictly before the label that holds it, so a loop cannot form.
 */
export function readName(buf: Buffer, start: number): [string, number] {
  const labels: string[] = [];
  let pos = start;
  let end = -1;
  let length = 1;
  for (let hops = 0; ; ) {
    if (pos >= buf.length) throw malformed(`name at offset ${start} runs past the end`);
    const len = buf[pos] ?? 0;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw malformed(`name pointer at offset ${pos} runs past the end`);
      const target = ((len & 0x3f) << 8) | (buf[pos + 1] ?? 0);
      if (target >= pos) throw malformed(`name pointer at offset ${pos} does not point backwards (to ${target})`);
      if (++hops > 127) throw malformed(`name at offset ${start} has too many pointers`);
      if (end < 0) end = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw malformed(`unsupported label type 0x${len.toString(16)} at offset ${pos}`);
    if (pos + 1 + len > buf.length) throw malformed(`label at offset ${pos} runs past the end`);
    length += len + 1;
    if (length > 255) throw malformed(`name at offset ${start} is longer than 255 bytes`);
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return [labels.join('.'), end];
}

function readRData(r: Reader, type: number, rdlength: number): RData {
  const end = r.pos + rdlength;
  let data: RData;
  if (rdlength === 0) return { kind: 'raw', bytes: Buffer.alloc(0) };
  switch (type) {
    case RRType.A:
    case RRType.AAAA: {
      const b = r.bytes(rdlength, 'address');
      if (b.length === 4 && type === RRType.A) data = { kind: 'address', address: [...b].join('.') };
      else if (b.length === 16 && type === RRType.AAAA) {
        const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
        data = { kind: 'address', address: groups.join(':') };
      } else throw malformed(`${typeName(type)} record of ${rdlength} bytes`);
      break;
    }
    case RRType.NS:
    case RRType.CNAME:
      data = { kind: 'name', name: r.name() };
      break;
    case RRType.SOA:
      data = {
        kind: 'soa', mname: r.name(), rname: r.name(), serial: r.u32('SOA'), refresh: r.u32('SOA'),
        retry: r.u32('SOA'), expire: r.u32('SOA'), minimum: r.u32('SOA'),
      };
      break;
    case RRType.TXT: {
      const strings: string[] = [];
      while (r.pos < end) strings.push(r.bytes(r.u8('TXT length'), 'TXT string').toString('utf8'));
      data = { kind: 'txt', strings };
      break;
    }
    case RRType.TSIG: {
      const algorithm = r.name();
      const timeSigned = r.u48('TSIG time');
      const fudge = r.u16('TSIG fudge');
      const mac = r.bytes(r.u16('TSIG MAC size'), 'TSIG MAC');
      const originalId = r.u16('TSIG original id');
      const error = r.u16('TSIG error');
      const other = r.bytes(r.u16('TSIG other length'), 'TSIG other data');
      data = { kind: 'tsig', algorithm, timeSigned, fudge, mac, originalId, error, other };
      break;
    }
    default:
      data = { kind: 'raw', bytes: r.bytes(rdlength, `${typeName(type)} RDATA`) };
  }
  if (r.pos !== end) throw malformed(`${typeName(type)} RDATA length ${rdlength} does not match its content`);
  return data;
}

/** Decodes a message. Throws `WhisperError('DNS_PROVIDER')` ("malformed DNS message: ...") on bad input. */
export function decodeMessage(buf: Buffer): DecodedMessage {
  const r = reader(buf);
  const id = r.u16('header');
  const flags = r.u16('header');
  const counts = [r.u16('header'), r.u16('header'), r.u16('header'), r.u16('header')] as const;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push({ name: r.name(), type: r.u16('question'), class: r.u16('question') });
  let tsigOffset: number | undefined;
  const section = (count: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < count; i++) {
      const start = r.pos;
      const name = r.name();
      const type = r.u16('record');
      const cls = r.u16('record');
      const ttl = r.u32('record');
      const rdlength = r.u16('record');
      if (r.pos + rdlength > buf.length) throw malformed(`RDATA at offset ${r.pos} runs past the end`);
      out.push({ name, type, class: cls, ttl, data: readRData(r, type, rdlength) });
      tsigOffset = type === RRType.TSIG ? start : undefined;
    }
    return out;
  };
  const answers = section(counts[1]);
  const authorities = section(counts[2]);
  tsigOffset = undefined; // only the last record of the additional section may be a TSIG
  const additionals = section(counts[3]);
  return {
    id, qr: (flags & 0x8000) !== 0, opcode: (flags >> 11) & 0xf, aa: (flags & 0x400) !== 0,
    tc: (flags & 0x200) !== 0, rd: (flags & 0x100) !== 0, ra: (flags & 0x80) !== 0, rcode: flags & 0xf,
    questions, answers, authorities, additionals, ...(tsigOffset === undefined ? {} : { tsigOffset }),
  };
}
