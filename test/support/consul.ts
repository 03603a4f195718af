import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { binaries } from './paths.js';
import { freePort } from './ports.js';
import { startProcess, type ServerProcess } from './proc.js';

/** A running Consul agent. */
export interface ConsulAgent {
  readonly process: ServerProcess;
  readonly node: string;
  /** `127.0.0.1:port` of the HTTP API. */
  readonly httpAddr: string;
  /** `127.0.0.1:port` of Serf LAN, for other agents to join. */
  readonly serfLanAddr: string;
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@link startConsul}. */
export interface ConsulOptions {
  /** Folder for its log (and data, for a non-dev agent). */
  dir: string;
  /** Node name. @default a unique name */
  node?: string;
  /** Serf LAN address of an agent to join as a client agent; absent: a dev server. */
  join?: string;
  /** Reuse these ports (to restart an agent where it was). */
  ports?: { http: number; server: number; serfLan: number; serfWan: number };
}

let counter = 0;

/** Ports of a Consul agent, for {@link ConsulOptions.ports}. */
export async function consulPorts() {
  return { http: await freePort(), server: await freePort(), serfLan: await freePort(), serfWan: await freePort() };
}

/**
 * Starts a Consul agent on 127.0.0.1: a dev server (in-memory, its own leader), or a client agent joining one.
 * Ready when the HTTP API reports a leader.
 */
export async function startConsul(options: ConsulOptions): Promise<ConsulAgent> {
  const node = options.node ?? `whisper-test-${process.pid}-${++counter}`;
  const ports = options.ports ?? (await consulPorts());
  const dir = join(options.dir, node);
  await mkdir(dir, { recursive: true });
  const args = [
    'agent',
    `-node=${node}`,
    '-bind=127.0.0.1',
    '-client=127.0.0.1',
    `-http-port=${ports.http}`,
    `-server-port=${ports.server}`,
    `-serf-lan-port=${ports.serfLan}`,
    `-serf-wan-port=${ports.serfWan}`,
    '-dns-port=-1',
    '-grpc-port=-1',
    '-grpc-tls-port=-1',
    '-log-level=warn',
    `-pid-file=${join(dir, 'consul.pid')}`,
  ];
  if (options.join) {
    args.push(`-data-dir=${join(dir, 'data')}`, `-retry-join=${options.join}`);
  } else {
    args.push('-dev');
  }
  const httpAddr = `127.0.0.1:${ports.http}`;
  const proc = await startProcess({
    name: `consul ${node}`,
    command: binaries().consul,
    args,
    logFile: join(dir, 'consul.log'),
    ready: async () => {
      const res = await fetch(`http://${httpAddr}/v1/status/leader`, { signal: AbortSignal.timeout(2000) });
      const leader = (await res.json()) as unknown;
      return res.ok && typeof leader === 'string' && leader.length > 0;
    },
  });
  return {
    process: proc,
    node,
    httpAddr,
    serfLanAddr: `127.0.0.1:${ports.serfLan}`,
    stop: (graceMs) => proc.stop(graceMs),
  };
}
