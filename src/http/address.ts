import { WhisperError } from '../errors.js';

/** Where the HTTP server listens (`--listen`). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[v6]:port` (port 0 picks a free one). Throws `CONFIG_INVALID` naming `--listen`. */
export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new WhisperError('CONFIG_INVALID', `--listen: expected host:port such as 127.0.0.1:9400 (got ${JSON.stringify(value)})`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** `host:port` as the user writes it (`[v6]:port` for IPv6). */
export function formatListen(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
