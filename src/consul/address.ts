import { isIPv6 } from 'node:net';
import { WhisperError } from '../errors.js';

/** Where Consul's HTTP API listens. */
export interface ConsulAddress {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** HTTPS. */
  readonly secure: boolean;
}

/** Consul's HTTP port. */
export const DEFAULT_CONSUL_PORT = 8500;

function invalid(address: string, why: string): WhisperError {
  return new WhisperError('CONFIG_INVALID', `Consul address ${JSON.stringify(address)}: ${why}`);
}

function port(address: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw invalid(address, `bad port ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Parses a Consul address as users write it (whisper's `-c`, `CONSUL_HTTP_ADDR`): `host`, `host:port`,
 * `[v6]`, `[v6]:port`, a bare IPv6 address, or a URL `http(s)://host:port`. A URL's scheme decides `secure`;
 * otherwise `secure` (from `--consul-tls`) does.
 */
export function parseConsulAddress(address: string, secure = false): ConsulAddress {
  const text = address.trim();
  if (text === '') throw invalid(address, 'empty');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) {
    const proto = scheme[1]!.toLowerCase();
    if (proto !== 'http' && proto !== 'https') throw invalid(address, `scheme must be http or https, not ${proto}`);
    let url: URL;
    try {
      url = new URL(text);
    } catch (err) {
      throw new WhisperError('CONFIG_INVALID', `Consul address ${JSON.stringify(address)}: not a valid URL`, { cause: err });
    }
    if (url.pathname !== '/' && url.pathname !== '') throw invalid(address, 'a path is not supported');
    const isHttps = proto === 'https';
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: port(address, url.port, isHttps ? 443 : DEFAULT_CONSUL_PORT),
      secure: isHttps,
    };
  }
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d*))?$/i.exec(text);
  if (bracketed) {
    if (!isIPv6(bracketed[1]!)) throw invalid(address, `bad IPv6 address ${JSON.stringify(bracketed[1])}`);
    return { host: bracketed[1]!, port: port(address, bracketed[2], DEFAULT_CONSUL_PORT), secure };
  }
  // Two or more colons without brackets: a bare IPv6 address, which cannot carry a port.
  if ((text.match(/:/g) ?? []).length > 1) {
    if (!isIPv6(text)) throw invalid(address, 'not a host, host:port or [IPv6]:port');
    return { host: text, port: DEFAULT_CONSUL_PORT, secure };
  }
  const [host, portText] = text.split(':') as [string, string | undefined];
  if (!/^[a-z0-9_.-]+$/i.test(host)) throw invalid(address, `bad host ${JSON.stringify(host)}`);
  return { host, port: port(address, portText, DEFAULT_CONSUL_PORT), secure };
}

/** `host:port` for messages and URLs (IPv6 in brackets). */
export function formatConsulAddress(a: ConsulAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
