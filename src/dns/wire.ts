import { isIPv4, isIPv6 } from 'node:net';
import { WhisperError } from '../errors.js';

/** Record types this codec understands (others pass through as raw bytes). */
export const RRType = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, OPT: 41, TSIG: 250, ANY: 255 } as const;
/** Record classes used by queries and RFC 2136 updates. */
export const RRClass = { IN: 1, NONE: 254, ANY: 255 } as const;
/** Header opcodes. */
export const Opcode = { QUERY: 0, UPDATE: 5 } as const;
/** Header rcodes (RFC 1035, RFC 2136) and the TSIG error codes (RFC 8945). */
export const Rcode = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, YXRRSET: 7,
  NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22,
} as const;

const rcodeNames = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));
const typeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));

/** The mnemonic of an rcode (`REFUSED`), or `RCODE<n>` for one without a name. */
export function rcodeName(rcode: number): string {
  return rcodeNames.get(rcode) ?? `RCODE${rcode}`;
}

/** The mnemonic of a record type (`TXT`), or `TYPE<n>` (RFC 3597) for one without a name. */
export function typeName(type: number): string {
  return typeNames.get(type) ?? `TYPE${type}`;
}

/** The number of a record type given by mnemonic (`txt`, `TXT`) or as `TYPE<n>`; undefined if unknown. */
export function typeFromName(name: string): number | undefined {
  const upper = name.toUpperCase();
  if (upper in RRType) return RRType[upper as keyof typeof RRType];
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  return m && Number(m[1]) < 65536 ? Number(m[1]) : undefined;
}

/** Record data, by shape. OPT, unknown types and empty RDATA (RFC 2136 deletes) are `raw`. */
export type RData =
  | { readonly kind: 'address'; readonly address: string }
  | { readonly kind: 'name'; readonly name: string }
  | {
      readonly kind: 'soa'; readonly mname: string; readonly rname: string; readonly serial: number;
      readonly refresh: number; readonly retry: number; readonly expire: number; readonly minimum: number;
    }
  | { readonly kind: 'txt'; readonly strings: readonly string[] }
  | {
      readonly kind: 'tsig'; readonly algorithm: string; readonly timeSigned: number; readonly fudge: number;
      readonly mac: Buffer; readonly originalId: number; readonly error: number; readonly other: Buffer;
    }
  | { readonly kind: 'raw'; readonly bytes: Buffer };

/** One resource record. Names have no trailing dot; the root is `''`. */
export interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: RData;
}

/** One question (in an UPDATE: the zone section). */
export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

/** A whole DNS message. For an UPDATE the sections are zone, prerequisite, update and additional. */
export interface DnsMessage {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly rcode: number;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authorities: readonly ResourceRecord[];
  readonly additionals: readonly ResourceRecord[];
}

/** A decoded message ({@link decodeMessage} in `wire-decode.ts`), with where its TSIG record starts when it ends with one (to check the MAC). */
export interface DecodedMessage extends DnsMessage {
  readonly tsigOffset?: number;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The uncompressed wire form of a name (trailing dot optional). Throws on empty or oversized labels. */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      const bytes = Buffer.from(label, 'latin1');
      if (bytes.length === 0 || bytes.length > 63) {
        throw new WhisperError('DNS_PROVIDER', `DNS name ${JSON.stringify(name)} has a label of ${bytes.length} bytes`);
      }
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new WhisperError('DNS_PROVIDER', `DNS name ${JSON.stringify(name)} is longer than 255 bytes`);
  return out;
}

/**
 * Splits one TXT value into character-strings of at most 255 bytes (UTF-8), never inside a character.
 * An empty value is one empty string.
 */
export function splitTxt(value: string): string[] {
  const out: string[] = [];
  let rest = Buffer.from(value, 'utf8');
  while (rest.length > 255) {
    let cut = 255;
    while (cut > 0 && ((rest[cut] ?? 0) & 0xc0) === 0x80) cut--; // step back off a UTF-8 continuation byte
    out.push(rest.subarray(0, cut).toString('utf8'));
    rest = rest.subarray(cut);
  }
  out.push(rest.toString('utf8'));
  return out;
}

function encodeAddress(type: number, address: string): Buffer {
  if (type === RRType.A && isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (type === RRType.AAAA && isIPv6(address)) {
    const [head = '', tail] = address.split('::') as [string, string | undefined];
    const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
    const h = groups(head);
    const t = tail === undefined ? [] : groups(tail);
    const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.concat(all.map((g) => u16(parseInt(g, 16))));
  }
  throw new WhisperError('DNS_PROVIDER', `not an address for ${typeName(type)}: ${JSON.stringify(address)}`);
}

/** The RDATA bytes of a record. */
export function encodeRData(type: number, data: RData): Buffer {
  switch (data.kind) {
    case 'address':
      return encodeAddress(type, data.address);
    case 'name':
      return encodeName(data.name);
    case 'soa':
      return Buffer.concat([
        encodeName(data.mname), encodeName(data.rname),
        ...[data.serial, data.refresh, data.retry, data.expire, data.minimum].map(u32),
      ]);
    case 'txt':
      return Buffer.concat(
        data.strings.map((s) => {
          const bytes = Buffer.from(s, 'utf8');
          if (bytes.length > 255) throw new WhisperError('DNS_PROVIDER', 'TXT character-string longer than 255 bytes');
          return Buffer.concat([Buffer.from([bytes.length]), bytes]);
        }),
      );
    case 'tsig': {
      const time = Buffer.alloc(6);
      time.writeUIntBE(data.timeSigned, 0, 6);
      return Buffer.concat([
        encodeName(data.algorithm), time, u16(data.fudge), u16(data.mac.length), data.mac,
        u16(data.originalId), u16(data.error), u16(data.other.length), data.other,
      ]);
    }
    case 'raw':
      return data.bytes;
  }
}

/** The wire form of one record (names uncompressed). */
export function encodeRecord(rr: ResourceRecord): Buffer {
  const rdata = encodeRData(rr.type, rr.data);
  return Buffer.concat([encodeName(rr.name), u16(rr.type), u16(rr.class), u32(rr.ttl), u16(rdata.length), rdata]);
}

/** The wire form of a message (no name compression). */
export function encodeMessage(msg: DnsMessage): Buffer {
  const flags =
    (msg.qr ? 0x8000 : 0) | ((msg.opcode & 0xf) << 11) | (msg.aa ? 0x400 : 0) | (msg.tc ? 0x200 : 0) |
    (msg.rd ? 0x100 : 0) | (msg.ra ? 0x80 : 0) | (msg.rcode & 0xf);
  const sections = [msg.answers, msg.authorities, msg.additionals];
  return Buffer.concat([
    u16(msg.id), u16(flags), u16(msg.questions.length), ...sections.map((s) => u16(s.length)),
    ...msg.questions.map((q) => Buffer.concat([encodeName(q.name), u16(q.type), u16(q.class)])),
    ...sections.flatMap((s) => s.map(encodeRecord)),
  ]);
}

/** A query for one name and type (class IN), recursion not desired. */
export function buildQuery(id: number, name: string, type: number): DnsMessage {
  return {
    id, qr: false, opcode: Opcode.QUERY, aa: false, tc: false, rd: false, ra: false, rcode: 0,
    questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
  };
}

/** A record to add or delete in an UPDATE: class and TTL are set by {@link buildUpdate}. */
export interface UpdateRecord {
  readonly name: string;
  readonly type: number;
  readonly data: RData;
}

/** Options of {@link buildUpdate}. */
export interface UpdateOptions {
  readonly id: number;
  /** The zone (the apex name). */
  readonly zone: string;
  /** Records to add (class IN). */
  readonly add?: readonly UpdateRecord[];
  /** Specific records to delete (class NONE, TTL 0, same RDATA); a missing one is not an error. */
  readonly delete?: readonly UpdateRecord[];
  /** TTL of added records. @default 60 */
  readonly ttl?: number;
}

/** An RFC 2136 UPDATE (opcode 5): zone section `zone SOA IN`, no prerequisites, deletes then adds. */
export function buildUpdate(options: UpdateOptions): DnsMessage {
  const ttl = options.ttl ?? 60;
  const updates: ResourceRecord[] = [
    ...(options.delete ?? []).map((u) => ({ ...u, class: RRClass.NONE, ttl: 0 })),
    ...(options.add ?? []).map((u) => ({ ...u, class: RRClass.IN, ttl })),
  ];
  return {
    id: options.id, qr: false, opcode: Opcode.UPDATE, aa: false, tc: false, rd: false, ra: false, rcode: 0,
    questions: [{ name: options.zone, type: RRType.SOA, class: RRClass.IN }],
    answers: [], authorities: updates, additionals: [],
  };
}

/** TXT record data for one value, split into 255-byte character-strings. */
export function txtData(value: string): RData {
  return { kind: 'txt', strings: splitTxt(value) };
}
