import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { exchange, parseServer, sendTcp, sendUdp } from '../../src/dns/transport.js';
import {
  buildQuery, encodeMessage, Opcode, Rcode, RRType, typeFromName, type DecodedMessage, type DnsMessage, type ResourceRecord,
} from '../../src/dns/wire.js';
import { decodeMessage } from '../../src/dns/wire-decode.js';
import { normalizeName, toRecords, type ZoneSource } from './dns-zone-source.js';

export { createMemorySource, createMotoSource, parseTxtValue, type RRset, type ZoneSource } from './dns-zone-source.js';

/** Options of {@link startDnsFront}. */
export interface DnsFrontOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** UDP and TCP port; 0 picks one free on both. @default 0 */
  readonly port?: number;
  readonly source: ZoneSource;
  /** Zones relayed to another server (`host:port`); the longest match wins, also over a source zone. */
  readonly forward?: readonly { readonly zone: string; readonly server: string }[];
  /** Server for every other name; without it they are REFUSED. */
  readonly defaultForward?: string;
  /** Timeout of a relayed query. @default 3000 */
  readonly forwardTimeoutMs?: number;
}

/** A running DNS front. */
export interface DnsFront {
  /** `host:port`. */
  readonly addr: string;
  readonly port: number;
  close(): Promise<void>;
}

function isUnder(name: string, zone: string): boolean {
  return zone === '' || name === zone || name.endsWith(`.${zone}`);
}

function parentOf(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

function labels(name: string): number {
  return name === '' ? 0 : name.split('.').length;
}

function reply(query: DecodedMessage, rcode: number, sections: Partial<Pick<DnsMessage, 'answers' | 'authorities'>> = {}, aa = false): DnsMessage {
  const opt = query.additionals.some((rr) => rr.type === RRType.OPT);
  return {
    id: query.id, qr: true, opcode: query.opcode, aa, tc: false, rd: query.rd, ra: false, rcode,
    questions: query.questions, answers: sections.answers ?? [], authorities: sections.authorities ?? [],
    additionals: opt ? [{ name: '', type: RRType.OPT, class: 1232, ttl: 0, data: { kind: 'raw', bytes: Buffer.alloc(0) } }] : [],
  };
}

/** The authoritative answer for a name inside `zone`: CNAMEs chased within the zone, wildcards, NXDOMAIN vs NODATA. */
async function answerFromZone(query: DecodedMessage, zone: string, source: ZoneSource): Promise<DnsMessage> {
  const q = query.questions[0] ?? { name: '', type: 0 };
  const unique = new Map((await source.rrsets(zone)).flatMap(toRecords).map((rr) => [JSON.stringify(rr), rr]));
  const records = [...unique.values()].filter((rr) => isUnder(rr.name, zone));
  let soa = records.find((rr) => rr.type === RRType.SOA && rr.name === zone);
  if (!soa) {
    soa = {
      name: zone, type: RRType.SOA, class: 1, ttl: 60,
      data: { kind: 'soa', mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
    };
    records.push(soa);
  }
  const byName = new Map<string, ResourceRecord[]>();
  for (const rr of records) byName.set(rr.name, [...(byName.get(rr.name) ?? []), rr]);
  const exists = (name: string): boolean =>
    byName.has(name) || records.some((rr) => rr.name.endsWith(`.${name}`)); // empty non-terminals exist
  const answers: ResourceRecord[] = [];
  let name = normalizeName(q.name);
  for (let hops = 0; hops < 8; hops++) {
    let here = byName.get(name);
    if (!here && !exists(name)) {
      let encloser = parentOf(name);
      while (!exists(encloser)) encloser = parentOf(encloser);
      here = byName.get(`*.${encloser}`)?.map((rr) => ({ ...rr, name }));
      if (!here) return reply(query, Rcode.NXDOMAIN, { answers, authorities: [soa] }, true);
    }
    const match = (here ?? []).filter((rr) => q.type === RRType.ANY || rr.type === q.type);
    if (match.length > 0) return reply(query, Rcode.NOERROR, { answers: [...answers, ...match] }, true);
    const cname = here?.find((rr) => rr.type === RRType.CNAME);
    if (!cname || cname.data.kind !== 'name') break;
    answers.push(cname);
    name = cname.data.name;
    if (!isUnder(name, zone)) return reply(query, Rcode.NOERROR, { answers }, true);
  }
  return reply(query, Rcode.NOERROR, { answers, authorities: answers.length ? [] : [soa] }, true);
}

type Transport = 'udp' | 'tcp';

function createHandler(options: DnsFrontOptions) {
  const forward = (options.forward ?? []).map((f) => ({ zone: normalizeName(f.zone), server: parseServer(f.server) }));
  const fallback = options.defaultForward === undefined ? undefined : parseServer(options.defaultForward);
  return async (packet: Buffer, transport: Transport): Promise<Buffer | undefined> => {
    let query: DecodedMessage;
    try {
      query = decodeMessage(packet);
    } catch {
      return undefined; // malformed: drop, as a real server would
    }
    if (query.qr) return undefined;
    const q = query.questions[0];
    if (query.opcode !== Opcode.QUERY) return encodeMessage(reply(query, Rcode.NOTIMP));
    if (!q || query.questions.length !== 1) return encodeMessage(reply(query, Rcode.FORMERR));
    const qname = normalizeName(q.name);
    try {
      const zone = (await options.source.zones()).map(normalizeName).filter((z) => isUnder(qname, z))
        .sort((a, b) => labels(b) - labels(a))[0];
      const fwd = forward.filter((f) => isUnder(qname, f.zone)).sort((a, b) => labels(b.zone) - labels(a.zone))[0];
      if (zone !== undefined && (!fwd || labels(zone) >= labels(fwd.zone))) {
        return encodeMessage(await answerFromZone(query, zone, options.source));
      }
      const upstream = fwd?.server ?? fallback;
      if (!upstream) return encodeMessage(reply(query, Rcode.REFUSED));
      const send = transport === 'udp' ? sendUdp : sendTcp;
      return await send(packet, upstream, { timeoutMs: options.forwardTimeoutMs ?? 3000 });
    } catch {
      return encodeMessage(reply(query, Rcode.SERVFAIL));
    }
  };
}

/** Over UDP an answer must fit the client's buffer (512 bytes, or its EDNS size): otherwise an empty TC answer. */
function fitUdp(query: Buffer, answer: Buffer): Buffer | undefined {
  let limit = 512;
  try {
    const opt = decodeMessage(query).additionals.find((rr) => rr.type === RRType.OPT);
    if (opt) limit = Math.max(512, Math.min(opt.class, 4096));
  } catch {
    return answer;
  }
  if (answer.length <= limit) return answer;
  try {
    const full = decodeMessage(answer);
    return encodeMessage({ ...full, tc: true, answers: [], authorities: [], additionals: [] });
  } catch {
    return undefined;
  }
}

function bindUdp(socket: UdpSocket, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket.address().port);
    });
  });
}

function listenTcp(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Starts a small authoritative DNS server over UDP and TCP on the same port: names in the source's zones
 * are answered from it (read live on every query), others relayed to `forward` / `defaultForward` or REFUSED.
 */
export async function startDnsFront(options: DnsFrontOptions): Promise<DnsFront> {
  const host = options.host ?? '127.0.0.1';
  const handle = createHandler(options);
  const connections = new Set<Socket>();
  const tcp = createServer((conn) => {
    connections.add(conn);
    conn.setTimeout(30_000, () => conn.destroy());
    conn.on('close', () => connections.delete(conn));
    conn.on('error', () => conn.destroy());
    let buffered = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const packet = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + packet.length);
        void handle(Buffer.from(packet), 'tcp').then((answer) => {
          if (!answer || conn.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(answer.length);
          conn.write(Buffer.concat([prefix, answer]));
        });
      }
    });
  });
  for (let tries = 0; ; tries++) {
    const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const port = await bindUdp(udp, options.port ?? 0, host);
    try {
      await listenTcp(tcp, port, host);
    } catch (err) {
      udp.close();
      if (options.port || tries >= 10) throw err;
      continue; // the free UDP port is taken over TCP: try another pair
    }
    udp.on('error', () => undefined);
    udp.on('message', (packet, rinfo) => {
      void handle(packet, 'udp').then((answer) => {
        const fitted = answer && fitUdp(packet, answer);
        if (fitted) udp.send(fitted, rinfo.port, rinfo.address);
      });
    });
    return {
      addr: isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
      port,
      close: async () => {
        for (const conn of connections) conn.destroy();
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
        await options.source.close?.();
      },
    };
  }
}

/** Asks a DNS server (e.g. the front) one question; over UDP (then TCP if truncated) or TCP only. */
export async function dnsQuery(
  server: string,
  name: string,
  type: string | number,
  options: { tcp?: boolean; timeoutMs?: number } = {},
): Promise<DecodedMessage> {
  const qtype = typeof type === 'number' ? type : typeFromName(type);
  if (qtype === undefined) throw new Error(`unknown record type ${type}`);
  const wire = encodeMessage(buildQuery(randomInt(65536), name, qtype));
  return decodeMessage(await exchange(wire, parseServer(server), { tcp: options.tcp, timeoutMs: options.timeoutMs ?? 3000 }));
}
