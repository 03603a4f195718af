import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { binaries } from './paths.js';
import { freeDnsPort, freePort } from './ports.js';
import { httpOk, startProcess, type ServerProcess } from './proc.js';
import { httpsGet } from './https-get.js';
import { makeServerCert } from './tls.js';

/** A running Pebble ACME server. */
export interface Pebble {
  readonly process: ServerProcess;
  readonly directoryUrl: string;
  readonly managementUrl: string;
  /** CA of Pebble's own HTTPS certificate. */
  readonly tlsCaFile: string;
  /** The config file it runs with. */
  readonly configFile: string;
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@link startPebble}. */
export interface PebbleOptions {
  dir: string;
  /** `host:port` of the DNS server Pebble validates dns-01 against. */
  dnsServer: string;
  /** Extra environment (`PEBBLE_WFE_NONCEREJECT`, `PEBBLE_VA_ALWAYS_VALID`, ...). `PEBBLE_VA_NOSLEEP=1` is set. */
  env?: Record<string, string>;
  /** Fields merged into the `pebble` config object (profiles, retryAfter, ...). */
  config?: Record<string, unknown>;
  /**
   * The port Pebble's VA sends HTTP-01 validation requests to (its config's `httpPort`), on the address the name
   * resolves to through `dnsServer` (127.0.0.1 for names the DNS front forwards to challtestsrv). @default a free
   * port nobody listens on
   */
  httpPort?: number;
  /** Reuse these ports (restart Pebble where it was). */
  ports?: { acme: number; management: number };
  name?: string;
}

/** Starts Pebble with a TLS certificate made for it; ready when its directory answers over HTTPS. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const name = options.name ?? 'pebble';
  const dir = join(options.dir, name);
  await mkdir(dir, { recursive: true });
  const tls = await makeServerCert(dir, 'pebble');
  const ports = options.ports ?? { acme: await freePort(), management: await freePort() };
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${ports.acme}`,
      managementListenAddress: `127.0.0.1:${ports.management}`,
      certificate: tls.certFile,
      privateKey: tls.keyFile,
      // http-01 only where a test asks (`httpPort`); tls-alpn-01 never: still free ports, so nothing clashes.
      httpPort: options.httpPort ?? (await freePort()),
      tlsPort: await freePort(),
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      domainBlocklist: ['blocked-domain.example'],
      retryAfter: { authz: 1, order: 1 },
      keyAlgorithm: 'ecdsa',
      profiles: {
        default: { description: 'default 90 days', validityPeriod: 7776000 },
        shortlived: { description: 'six days', validityPeriod: 518400 },
      },
      ...options.config,
    },
  };
  const configFile = join(dir, 'pebble-config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const directoryUrl = `https://127.0.0.1:${ports.acme}/dir`;
  const managementUrl = `https://127.0.0.1:${ports.management}`;
  const proc = await startProcess({
    name,
    command: binaries().pebble,
    args: ['-config', configFile, '-dnsserver', options.dnsServer],
    logFile: join(dir, 'pebble.log'),
    env: { PEBBLE_VA_NOSLEEP: '1', ...options.env },
    ready: async () =>
      (await httpsGet(directoryUrl, tls.caFile)).status === 200 &&
      (await httpsGet(`${managementUrl}/roots/0`, tls.caFile)).status === 200,
  });
  return { process: proc, directoryUrl, managementUrl, tlsCaFile: tls.caFile, configFile, stop: (g) => proc.stop(g) };
}

/** Pebble's current root certificate (it changes on every start), from its management port. */
export async function pebbleRoot(pebble: { managementUrl: string; tlsCaFile: string }): Promise<string> {
  const res = await httpsGet(`${pebble.managementUrl}/roots/0`, pebble.tlsCaFile);
  if (res.status !== 200) throw new Error(`pebble /roots/0 answered ${res.status}`);
  return res.body;
}

/** A running pebble-challtestsrv (mock DNS with a management API). */
export interface ChallTestSrv {
  readonly process: ServerProcess;
  readonly managementUrl: string;
  readonly dnsAddr: string;
  stop(graceMs?: number): Promise<void>;
}

/** Starts pebble-challtestsrv with only its DNS server and management API. */
export async function startChallTestSrv(dir: string): Promise<ChallTestSrv> {
  await mkdir(dir, { recursive: true });
  const dnsPort = await freeDnsPort();
  const mgmt = await freePort();
  const managementUrl = `http://127.0.0.1:${mgmt}`;
  const proc = await startProcess({
    name: 'pebble-challtestsrv',
    command: binaries().challtestsrv,
    args: [
      '-management', `127.0.0.1:${mgmt}`,
      '-dnsserver', `127.0.0.1:${dnsPort}`,
      '-http01', '', '-https01', '', '-doh', '', '-tlsalpn01', '',
      '-defaultIPv6', '',
    ],
    logFile: join(dir, 'challtestsrv.log'),
    ready: () => httpOk(`${managementUrl}/set-default-ipv4`, { method: 'POST', body: JSON.stringify({ ip: '127.0.0.1' }) }),
  });
  return { process: proc, managementUrl, dnsAddr: `127.0.0.1:${dnsPort}`, stop: (g) => proc.stop(g) };
}
