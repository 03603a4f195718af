import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestEnv } from '../../test/support/env-types.js';

/** A peer ACME client run once per certificate, as its users run it. */
export interface Peer {
  readonly name: 'lego' | 'certbot';
  /** Orders one certificate for `domain`; resolves with the wall time in ms, rejects with the output on failure. */
  issue(domain: string): Promise<number>;
}

/** Runs a command; resolves with its wall time, rejects with its output tail when it fails. */
export function timed(command: string, args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`${command} exited ${code}: ${out}`));
    });
  });
}

/** Output of `command args` (first line), or the error text. */
export function versionOf(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => resolve(`not available (${err.message})`));
    child.on('exit', () => resolve(out.trim().split('\n')[0] ?? ''));
  });
}

/** lego with `--dns rfc2136` against the fixture's BIND; one account folder reused across runs. */
export async function createLego(env: TestEnv, dir: string): Promise<Peer> {
  await mkdir(dir, { recursive: true });
  const vars = {
    RFC2136_NAMESERVER: env.bind.addr,
    RFC2136_TSIG_KEY: env.bind.tsig.name,
    RFC2136_TSIG_SECRET: env.bind.tsig.secret,
    // lego wants the algorithm as a fully qualified name.
    RFC2136_TSIG_ALGORITHM: `${env.bind.tsig.algorithm.replace(/\.$/, '')}.`,
    RFC2136_PROPAGATION_TIMEOUT: '30',
    RFC2136_POLLING_INTERVAL: '1',
    RFC2136_TTL: '1',
    LEGO_CA_CERTIFICATES: env.pebble.tlsCaFile,
  };
  return {
    name: 'lego',
    issue: (domain) =>
      timed('lego', ['--server', env.pebble.directoryUrl, '--email', 'x@example.com', '--accept-tos', '--dns', 'rfc2136',
        '--dns.resolvers', env.bind.addr,
        // The fixture's NS names do not resolve: without this lego cannot reach BIND's authoritative servers by name.
        '--dns.disable-cp', '--key-type', 'ec256', '-d', domain, '--path', dir, 'run'], vars),
  };
}

/** certbot with the dns-rfc2136 plugin against the fixture's BIND, with its smallest propagation wait (1 s). */
export async function createCertbot(env: TestEnv, dir: string): Promise<Peer> {
  await mkdir(dir, { recursive: true });
  const [ip, port] = env.bind.addr.split(':');
  const ini = join(dir, 'rfc2136.ini');
  await writeFile(ini, [
    `dns_rfc2136_server = ${ip}`,
    `dns_rfc2136_port = ${port}`,
    `dns_rfc2136_name = ${env.bind.tsig.name}`,
    `dns_rfc2136_secret = ${env.bind.tsig.secret}`,
    `dns_rfc2136_algorithm = ${env.bind.tsig.algorithm.replace(/\.$/, '').toUpperCase()}`,
    '',
  ].join('\n'), { mode: 0o600 });
  return {
    name: 'certbot',
    issue: (domain) =>
      timed('certbot', ['certonly', '--server', env.pebble.directoryUrl, '--dns-rfc2136', '--dns-rfc2136-credentials', ini,
        '--dns-rfc2136-propagation-seconds', '1', '-d', domain, '--config-dir', join(dir, 'config'), '--work-dir', join(dir, 'work'),
        '--logs-dir', join(dir, 'logs'), '--non-interactive', '--agree-tos', '-m', 'x@example.com', '--key-type', 'ecdsa'],
      { REQUESTS_CA_BUNDLE: env.pebble.tlsCaFile }),
  };
}
