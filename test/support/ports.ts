import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

function tcpPort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/** A TCP port free on 127.0.0.1 now (and never handed out twice by this process). */
export async function freePort(): Promise<number> {
  for (;;) {
    const p = await tcpPort();
    if (!handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
}

/** A port free on 127.0.0.1 for both TCP and UDP (DNS servers listen on both). */
export async function freeDnsPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (await udpFree(p)) return p;
  }
  throw new Error('no port free for both TCP and UDP');
}
