import http from 'node:http';
import https from 'node:https';
import type { AriFetch, AriResponse } from './ari.js';
import { USER_AGENT } from '../version.js';

/** Options of {@link createCaFetch}. */
export interface CaFetchOptions {
  /** How long the connection may stay silent before the request fails. @default 30000 */
  timeoutMs?: number;
}

/**
 * A minimal GET-only `fetch` for the ACME server that trusts `caBundle` (PEM) besides the system CAs
 * (a private CA, Pebble), which the global `fetch` cannot be told to do without a dependency.
 * Plain `http:` URLs work too (tests, a CA behind a local proxy).
 */
export function createCaFetch(caBundle?: string, options: CaFetchOptions = {}): AriFetch {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const agent = caBundle === undefined ? undefined : new https.Agent({ ca: caBundle, keepAlive: true });
  return (url, init) =>
    new Promise<AriResponse>((resolve, reject) => {
      const target = new URL(url);
      const isHttps = target.protocol === 'https:';
      if (!isHttps && target.protocol !== 'http:') {
        reject(new Error(`unsupported URL scheme ${target.protocol}`));
        return;
      }
      const request = (isHttps ? https : http).request(target, {
        method: 'GET',
        // ACME servers refuse requests without a User-Agent (RFC 8555 section 6.1).
        headers: { 'user-agent': USER_AGENT, ...init?.headers },
        timeout: timeoutMs,
        ...(init?.signal ? { signal: init.signal } : {}),
        ...(isHttps && agent ? { agent } : {}),
      });
      request.on('timeout', () => request.destroy(new Error(`${target.host} silent for ${timeoutMs} ms`)));
      request.on('error', reject);
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: {
              get(name) {
                const value = res.headers[name.toLowerCase()];
                if (value === undefined) return null;
                return Array.isArray(value) ? value.join(', ') : value;
              },
            },
            text: () => Promise.resolve(body),
          });
        });
      });
      request.end();
    });
}
