import { mkdir, writeFile } from 'node:fs/promises';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { binaries } from './paths.js';
import { freePort } from './ports.js';
import { startProcess, type ServerProcess } from './proc.js';

/** A running HAProxy serving TLS from a certificate folder (`crt <dir>`), as in production. */
export interface Haproxy {
  readonly process: ServerProcess;
  readonly port: number;
  /** Reload the configuration and certificates (master-worker SIGUSR2), as a notify-key watcher would. */
  reload(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** Starts HAProxy with `bind 127.0.0.1:<port> ssl crt <certDir>`; the folder must hold at least one certificate. */
export async function startHaproxy(dir: string, certDir: string): Promise<Haproxy> {
  const home = join(dir, `haproxy-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`);
  await mkdir(home, { recursive: true });
  const port = await freePort();
  const conf = join(home, 'haproxy.cfg');
  await writeFile(
    conf,
    `global
  pidfile ${join(home, 'haproxy.pid')}
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend https
  bind 127.0.0.1:${port} ssl crt ${certDir}
  http-request return status 200 content-type text/plain string "served by haproxy"
`,
  );
  const proc = await startProcess({
    name: 'haproxy',
    command: binaries().haproxy,
    args: ['-W', '-db', '-f', conf],
    logFile: join(home, 'haproxy.log'),
    ready: () =>
      new Promise<boolean>((resolve) => {
        const s = netConnect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
  });
  return {
    process: proc,
    port,
    async reload() {
      const before = proc.logTail(1000).split('\n').length;
      process.kill(proc.pid, 'SIGUSR2');
      // The master logs the new worker's start; wait for a line after the signal.
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const lines = proc.logTail(1000).split('\n');
        if (lines.length > before && lines.slice(before - 1).some((l) => /Reexecuting|Loading success|reload/i.test(l))) {
          await new Promise((r) => setTimeout(r, 200));
          return;
        }
      }
      throw new Error(`haproxy did not reload:\n${proc.logTail()}`);
    },
    stop: (g) => proc.stop(g),
  };
}

/** Connects with TLS and SNI `servername`, trusting `ca`, and returns the certificate the server presented. */
export function fetchServedCert(port: number, servername: string, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: true }, () => {
      const cert = sock.getPeerCertificate(false);
      sock.end();
      resolve(cert);
    });
    sock.setTimeout(5000, () => sock.destroy(new Error('TLS connect timeout')));
    sock.on('error', reject);
  });
}
