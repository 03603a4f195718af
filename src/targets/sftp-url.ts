import { WhisperError } from '../errors.js';

/** Where the SFTP target writes, from `sftp://user@host[:port]/path`. */
export interface SftpLocation {
  /** Login name (percent-decoded). */
  readonly user: string;
  /** Host name or IP address to connect to (an IPv6 address without brackets). */
  readonly host: string;
  /** @default 22 */
  readonly port: number;
  /**
   * Remote folder: absolute (`/etc/haproxy/certs`), or relative to the login folder when the URL path starts with
   * `/~/` (`certs`; `.` for `/~`), as in the sftp URI draft and curl.
   */
  readonly dir: string;
  /** The target's stable name: `sftp://user@host:port/path`, the port always written. */
  readonly name: string;
}

function fail(url: URL | string, why: string): WhisperError {
  // The URL never holds a secret here (a password is refused), but print it without one in any case.
  const shown = typeof url === 'string' ? url : `${url.protocol}//${url.username ? `${url.username}@` : ''}${url.host}${url.pathname}`;
  return new WhisperError('TARGET_CONFIG', `SFTP target ${shown}: ${why} (expected sftp://user@host[:port]/path)`);
}

function decode(url: URL, part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch (err) {
    throw new WhisperError('TARGET_CONFIG', `${fail(url, `the ${what} is not valid percent-encoding`).message}`, {
      cause: err,
    });
  }
}

function remoteDir(url: URL): string {
  const path = decode(url, url.pathname, 'path');
  if (path === '') throw fail(url, 'the remote folder is missing');
  if (path.includes('\0')) throw fail(url, 'the path holds a NUL character');
  const segments = path.split('/');
  if (segments.includes('..')) throw fail(url, 'the path holds a ".." segment');
  if (path === '/~' || path === '/~/') return '.';
  if (path.startsWith('/~/')) return path.slice(3).replace(/\/+$/, '');
  return path === '/' ? '/' : path.replace(/\/+$/, '');
}

/**
 * Parses the SFTP target's URL: `sftp://user@host[:port]/path`. The user is required (there is no default login),
 * a password is refused (key authentication only: `--ssh-key`), and so are a query, a fragment and `..` segments.
 * @throws WhisperError `TARGET_CONFIG` naming the URL and what is wrong.
 */
export function parseSftpUrl(url: URL): SftpLocation {
  if (url.protocol !== 'sftp:') throw fail(url, `the scheme is ${url.protocol.replace(/:$/, '')}, not sftp`);
  if (url.password !== '') throw fail(url, 'a password in the URL is not supported, use key authentication (--ssh-key)');
  if (url.username === '') throw fail(url, 'the user is missing');
  if (url.hostname === '') throw fail(url, 'the host is missing');
  if (url.search !== '' || url.hash !== '') throw fail(url, 'a query or fragment is not supported');
  const user = decode(url, url.username, 'user');
  const port = url.port === '' ? 22 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw fail(url, `port ${url.port} is out of range`);
  const dir = remoteDir(url);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const name = `sftp://${url.username}@${url.hostname}:${port}${url.pathname.replace(/(.)\/+$/, '$1')}`;
  return { user, host, port, dir, name };
}

/** {@link parseSftpUrl} of a string; a string that is no URL at all is a `TARGET_CONFIG` error too. */
export function parseSftpUrlString(text: string): SftpLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new WhisperError('TARGET_CONFIG', `${fail(text.replace(/\/\/[^@/]*:[^@/]*@/, '//***@'), 'not a URL').message}`, {
      cause: err,
    });
  }
  return parseSftpUrl(url);
}
