import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { parseServer, sendTcp, sendUdp } from '../../src/dns/transport.js';
import { encodeMessage, Opcode, Rcode } from '../../src/dns/wire.js';
import { decodeMessage } from '../../src/dns/wire-decode.js';
import { freeDnsPort } from './ports.js';

/** A DNS relay that counts the messages it passes on. */
export interface DnsCountProxy {
  /** `127.0.0.1:port`, UDP and TCP. */
  readonly addr: string;
  /** Every request, in order: its opcode (5 = UPDATE), the transport it came by, its update records, and whether it was failed. */
  readonly seen: Seen[];
  /** How many UPDATE messages came. */
  updates(): number;
  /** The next this many UPDATE messages are answered SERVFAIL instead of being relayed. */
  failUpdates: number;
  close(): Promise<void>;
}

/** One request the proxy saw. */
export interface Seen {
  readonly opcode: number;
  readonly via: 'udp' | 'tcp';
  /** Records an UPDATE adds or deletes. */
  readonly records: number;
  readonly failed: boolean;
}

const opcodeOf = (message: Buffer): number => ((message[2] ?? 0) >> 3) & 0x0f;

/** Relays DNS over UDP and TCP on one port to `upstream` (`host:port`), counting requests by opcode. */
export async function startDnsCountProxy(upstream: string): Promise<DnsCountProxy> {
  const server = parseServer(upstream);
  const port = await freeDnsPort();
  const seen: Seen[] = [];
  /** The answer to send: upstream's, or a SERVFAIL of our own (unsigned, as a server that cannot check TSIG sends). */
  function relay(msg: Buffer, via: Seen['via']): Promise<Buffer> {
    const opcode = opcodeOf(msg);
    if (opcode !== Opcode.UPDATE) {
      seen.push({ opcode, via, records: 0, failed: false });
      return via === 'udp' ? sendUdp(msg, server, { timeoutMs: 5000 }) : sendTcp(msg, server, { timeoutMs: 5000 });
    }
    const decoded = decodeMessage(msg);
    const failed = proxy.failUpdates > 0;
    seen.push({ opcode, via, records: decoded.authorities.length, failed });
    if (!failed) return via === 'udp' ? sendUdp(msg, server, { timeoutMs: 5000 }) : sendTcp(msg, server, { timeoutMs: 5000 });
    proxy.failUpdates -= 1;
    return Promise.resolve(encodeMessage({ ...decoded, qr: true, rcode: Rcode.SERVFAIL, answers: [], authorities: [], additionals: [] }));
  }

  const udp = createSocket('udp4');
  udp.on('message', (msg, from) => {
    relay(msg, 'udp').then(
      (answer) => udp.send(answer, from.port, from.address),
      () => undefined, // dropped, as a lossy network would; the client asks again
    );
  });
  await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve));

  const sockets = new Set<Socket>();
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + msg.length);
        relay(Buffer.from(msg), 'tcp').then(
          (answer) => {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(answer.length);
            socket.write(Buffer.concat([prefix, answer]));
          },
          () => socket.destroy(),
        );
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve));

  const proxy: DnsCountProxy = {
    addr: `127.0.0.1:${port}`,
    seen,
    failUpdates: 0,
    updates: () => seen.filter((s) => s.opcode === Opcode.UPDATE).length,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
  return proxy;
}
