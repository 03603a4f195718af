import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
  /** The plain HTTP port of the `http01` frontend, when started with one. */
  readonly http01Port?: number;
  /** The runtime API, when started with `adminSocket`: a unix socket path and a TCP `127.0.0.1:<port>`, both `level admin`. */
  readonly admin?: { readonly socket: string; readonly tcp: string };
  /** Sends one runtime API command (needs `adminSocket`) and returns HAProxy's answer. */
  runtime(command: string): Promise<string>;
  /** `show info`'s worker pid and start: a reload or restart changes them. Needs `adminSocket`. */
  info(): Promise<HaproxyInfo>;
}

/** What tells one HAProxy worker from the next. */
export interface HaproxyInfo {
  readonly pid: number;
  readonly uptimeSec: number;
  readonly startTimeSec: number;
  readonly version: string;
}

/** Options of {@link startHaproxy}. */
export interface HaproxyOptions {
  /** Also open the runtime API: `stats socket <path> level admin expose-fd listeners` and a TCP one. @default false */
  adminSocket?: boolean;
  /**
   * Also a plain HTTP frontend `bind 127.0.0.1:<port>` routing `path_beg /.well-known/acme-challenge/` to a backend of
   * these responders (`host:port` each, round robin), everything else 404: as docs/http-01.md tells operators.
   * @default none
   */
  http01?: { readonly servers: readonly string[]; readonly port?: number };
}

/** The HTTP-01 frontend and backend of {@link HaproxyOptions.http01}. */
function http01Section(port: number, servers: readonly string[]): string {
  return `frontend http01
  bind 127.0.0.1:${port}
  acl acme path_beg /.well-known/acme-challenge/
  use_backend whisper_http01 if acme
  http-request return status 404 content-type text/plain string "not found" if !acme
backend whisper_http01
  balance roundrobin
${servers.map((s, i) => `  server r${i} ${s}\n`).join('')}`;
}

/** Starts HAProxy with `bind 127.0.0.1:<port> ssl crt <certDir>`; the folder must hold at least one certificate. */
export async function startHaproxy(dir: string, certDir: string, options: HaproxyOptions = {}): Promise<Haproxy> {
  const home = join(dir, `haproxy-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`);
  await mkdir(home, { recursive: true });
  const port = await freePort();
  const conf = join(home, 'haproxy.cfg');
  // A unix socket path must stay short (108 bytes): it lives in its own temporary folder.
  const sockDir = options.adminSocket ? await mkdtemp(join(tmpdir(), 'hx-')) : undefined;
  const admin = sockDir ? { socket: join(sockDir, 'admin.sock'), tcp: `127.0.0.1:${await freePort()}` } : undefined;
  const http01Port = options.http01 ? (options.http01.port ?? (await freePort())) : undefined;
  const http01 = options.http01 && http01Port !== undefined ? http01Section(http01Port, options.http01.servers) : '';
  const stats = admin ? `  stats socket ${admin.socket} level admin expose-fd listeners\n  stats socket ${admin.tcp} level admin\n` : '';
  await writeFile(
    conf,
    `global
  pidfile ${join(home, 'haproxy.pid')}
${stats}defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend https
  bind 127.0.0.1:${port} ssl crt ${certDir}
  http-request return status 200 content-type text/plain string "served by haproxy"
${http01}`,
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
  const runtime = (command: string) => {
    if (!admin) return Promise.reject(new Error('startHaproxy: no adminSocket'));
    return runtimeAnswer(admin.socket, command);
  };
  return {
    process: proc,
    port,
    ...(http01Port !== undefined ? { http01Port } : {}),
    ...(admin ? { admin } : {}),
    runtime,
    async info() {
      const fields = new Map((await runtime('show info')).split('\n').map((l) => [l.split(': ')[0], l.split(': ')[1] ?? ''] as const));
      return {
        pid: Number(fields.get('Pid')),
        uptimeSec: Number(fields.get('Uptime_sec')),
        startTimeSec: Number(fields.get('Start_time_sec')),
        version: fields.get('Version') ?? '',
      };
    },
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
    async stop(g) {
      await proc.stop(g);
      if (sockDir) await rm(sockDir, { recursive: true, force: true });
    },
  };
}

/** One runtime API command over a unix socket: HAProxy answers and closes. */
function runtimeAnswer(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const s = netConnect({ path }, () => s.write(`${command}\n`));
    s.setTimeout(5000, () => s.destroy(new Error(`haproxy runtime API: ${command}: timeout`)));
    s.on('data', (d) => (out += d.toString('utf8')));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
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
