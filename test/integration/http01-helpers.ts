/** Shared set-up of the HTTP-01 integration tests: a folder, Pebble validating through HAProxy, the daemon's args. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestEnv } from '../support/env-types.js';
import { startHaproxy, type Haproxy } from '../support/haproxy.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { freePort } from '../support/ports.js';
import { makeServerCert } from '../support/tls.js';
import { uniq, type WhisperProcess } from '../support/whisper.js';

/** One test's world: its folder, a zone nobody serves (its names resolve to 127.0.0.1 through challtestsrv), Pebble. */
export interface Http01World {
  readonly base: string;
  readonly zone: string;
  readonly pebble: Pebble;
  /** HAProxy's plain HTTP port, where Pebble sends its HTTP-01 requests. */
  readonly httpPort: number;
  /** Starts HAProxy routing `/.well-known/acme-challenge/` on `httpPort` to `servers`. */
  haproxy(servers: readonly string[]): Promise<Haproxy>;
}

/**
 * A Pebble of its own whose VA asks `127.0.0.1:<httpPort>` (HAProxy, started later with {@link Http01World.haproxy}),
 * with no authorization reuse (every order is validated).
 */
export async function http01World(env: TestEnv, cleanups: Array<() => Promise<unknown>>, prefix: string): Promise<Http01World> {
  const base = await mkdtemp(join(tmpdir(), `whisper-${prefix}-`));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  // Not a Route53 or BIND zone: the DNS front forwards it to challtestsrv, which answers A 127.0.0.1 for any name.
  const zone = `${prefix}${uniq()}.http01.test`;
  const httpPort = await freePort();
  const pebble = await startPebble({ dir: base, name: `pebble-${prefix}`, dnsServer: env.dnsFront.addr, httpPort, env: { PEBBLE_AUTHZREUSE: '0' } });
  cleanups.push(() => pebble.stop());
  return {
    base,
    zone,
    pebble,
    httpPort,
    async haproxy(servers) {
      // The HTTPS frontend of startHaproxy needs one certificate in its folder: a throwaway one.
      const certs = join(base, `haproxy-certs-${uniq()}`);
      await mkdir(certs, { recursive: true });
      const tls = await makeServerCert(certs, 'haproxy');
      const crtDir = join(base, `haproxy-crt-${uniq()}`);
      await mkdir(crtDir);
      await writeFile(join(crtDir, 'server.pem'), `${await readFile(tls.certFile, 'utf8')}${await readFile(tls.keyFile, 'utf8')}`);
      const hx = await startHaproxy(base, crtDir, { http01: { servers, port: httpPort } });
      cleanups.push(() => hx.stop());
      return hx;
    },
  };
}

/** The daemon's arguments for `world`: Pebble, no DNS, `--challenge http-01`. */
export function http01Args(env: TestEnv, world: Http01World, folder: string): string[] {
  return [folder, '--consul', env.consul.httpAddr, '--directory-url', world.pebble.directoryUrl, '--ca-bundle', world.pebble.tlsCaFile,
    '--dns-provider', 'none', '--challenge', 'http-01', '--allow-domain', world.zone, '--notify', `whisper-tests/${world.zone}`];
}

/** The tokens the daemon's responder was asked for, and whether it had them (its debug log). */
export function responderRequests(w: WhisperProcess): Array<{ token: string; found: boolean; host: string }> {
  return w.logs
    .filter((l) => l.msg === 'HTTP-01 request')
    .map((l) => ({ token: String(l.token), found: l.found === true, host: String(l.host) }));
}
