import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

/** One GET to Consul (see {@link rawGet}). */
export interface RawGetOptions {
  readonly agent: http.Agent;
  readonly secure: boolean;
  /** Host name or IP address, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** Path and query, e.g. `/v1/catalog/services?index=3&wait=5m`. */
  readonly path: string;
  readonly token?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A 2xx answer, its body as bytes. */
export interface RawAnswer {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The error fields `toConsulError` reads, as node-consul's HTTP layer sets them. */
type ShapedError = Error & { isResponse?: boolean; statusCode?: number; isTimeout?: boolean };

function shaped(message: string, fields: Omit<ShapedError, 'name' | 'message'>): ShapedError {
  return Object.assign(new Error(message), fields);
}

/**
 * GETs `path` and returns the body as bytes, undecoded: the catalog watcher compares Consul's answer byte for byte
 * with the previous one before it parses anything (node-consul always decodes). Errors carry the fields of
 * node-consul's errors (`isResponse` + `statusCode`, `isTimeout`), so `toConsulError` names them the same way.
 */
export function rawGet(o: RawGetOptions): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = (o.secure ? https : http).request({
      host: o.host,
      port: o.port,
      path: o.path,
      method: 'GET',
      agent: o.agent,
      headers: { accept: 'application/json', ...(o.token ? { 'x-consul-token': o.token } : {}) },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const timer = setTimeout(() => request.destroy(shaped(`request timed out after ${o.timeoutMs} ms`, { isTimeout: true })), o.timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    request.on('error', fail);
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve({ headers: res.headers, body });
        // Consul explains refusals in a short text body ("Permission denied", "Invalid wait time").
        const detail = body.length > 0 && body.length < 200 ? body.toString('utf8').trim() : http.STATUS_CODES[status] ?? `status ${status}`;
        reject(shaped(detail, { isResponse: true, statusCode: status }));
      });
    });
    request.end();
  });
}
