import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';

/** What a fake server answers to one packet: nothing, one datagram, or several (UDP) in order. */
export type FakeHandler = (packet: Buffer, transport: 'udp' | 'tcp') => Buffer | Buffer[] | undefined;

/** A fake DNS server on 127.0.0.1, UDP and TCP on one port, answering through a handler. */
export async function startFakeDns(handler: FakeHandler): Promise<{ port: number; close(): Promise<void> }> {
  for (let tries = 0; ; tries++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    const conns = new Set<Socket>();
    const tcp = createServer((conn) => {
      conns.add(conn);
      conn.on('close', () => conns.delete(conn));
      conn.on('error', () => conn.destroy());
      let buf = Buffer.alloc(0);
      conn.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const out = handler(buf.subarray(2, 2 + buf.readUInt16BE(0)), 'tcp');
        buf = Buffer.alloc(0);
        for (const answer of out === undefined ? [] : [out].flat()) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(answer.length);
          conn.write(Buffer.concat([prefix, answer]));
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) {
      udp.close();
      if (tries > 10) throw new Error('no port free on UDP and TCP');
      continue;
    }
    udp.on('message', (packet, rinfo) => {
      const out = handler(packet, 'udp');
      for (const answer of out === undefined ? [] : [out].flat()) udp.send(answer, rinfo.port, rinfo.address);
    });
    return {
      port,
      close: async () => {
        for (const c of conns) c.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      },
    };
  }
}
