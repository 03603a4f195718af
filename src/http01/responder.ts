import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { listenOn } from '../http/listen.js';
import type { ListenAddress } from '../http/address.js';
import type { Http01Lookup } from './solver.js';
import { CHALLENGE_PATH, isAcmeToken } from './token.js';

/** Options of {@link startHttp01Responder}. */
export interface Http01ResponderOptions {
  /** `--http01-listen`. */
  readonly listen: ListenAddress;
  /** Where the tokens are (this process's map, or Consul KV under `--ha`). */
  readonly lookup: Http01Lookup;
  readonly log: Logger;
  /** A request that has not ended after this long is dropped. @default 10000 */
  readonly requestTimeoutMs?: number;
}

/** The running responder. */
export interface Http01Responder {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Stops listening and drops open connections. Safe to repeat. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

/**
 * The request handler: `GET` or `HEAD` `/.well-known/acme-challenge/<token>` (a query string is ignored) answers the
 * key authorization as `text/plain`; everything else is 404. The token's syntax is checked before any lookup. A
 * failed lookup (Consul unreachable) is 503, logged without the value.
 */
export function http01Handler(lookup: Http01Lookup, log: Logger): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const head = req.method === 'HEAD';
    const path = (req.url ?? '').split('?')[0] ?? '';
    const token = path.startsWith(CHALLENGE_PATH) ? path.slice(CHALLENGE_PATH.length) : undefined;
    if ((req.method !== 'GET' && !head) || token === undefined || !isAcmeToken(token)) return send(res, 404, 'not found\n', head);
    let value: string | undefined;
    try {
      value = await lookup(token);
    } catch (err) {
      log.warn({ token, err: errorMessage(err) }, 'HTTP-01 token lookup failed');
      return send(res, 503, 'unavailable\n', head);
    }
    // The token is public (the CA sent it in the clear); the key authorization is never logged.
    log.debug({ token, found: value !== undefined, host: req.headers.host }, 'HTTP-01 request');
    if (value === undefined) return send(res, 404, 'not found\n', head);
    send(res, 200, value, head);
  };
}

/** Starts the HTTP-01 responder; fails with `CONFIG_INVALID` naming `--http01-listen` when the address cannot be bound. */
export async function startHttp01Responder(options: Http01ResponderOptions): Promise<Http01Responder> {
  const handle = http01Handler(options.lookup, options.log);
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.log.warn({ err: errorMessage(err) }, 'HTTP-01 request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n', req.method === 'HEAD');
      else res.end();
    });
  });
  server.requestTimeout = options.requestTimeoutMs ?? 10_000;
  return listenOn(server, options.listen, '--http01-listen', 'HTTP-01 responder', options.log);
}
