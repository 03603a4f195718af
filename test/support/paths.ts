import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache folder of `scripts/env/install.sh` (same rule as scripts/env/lib.sh). */
export function cacheDir(): string {
  return (
    process.env.WHISPER_TS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'whisper-ts')
  );
}

/** Paths of the installed server binaries. */
export function binaries() {
  const bin = join(cacheDir(), 'bin');
  return {
    consul: join(bin, 'consul'),
    pebble: join(bin, 'pebble'),
    challtestsrv: join(bin, 'pebble-challtestsrv'),
    motoServer: join(cacheDir(), 'venv', 'bin', 'moto_server'),
    named: '/usr/sbin/named',
    haproxy: '/usr/sbin/haproxy',
    openssl: 'openssl',
  } as const;
}
