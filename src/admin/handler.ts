import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { systemTimers, type Timers } from '../time.js';
import { decideAccess, isLocalHost, isLoopback, tokenMatches } from './auth.js';
import type { AdminHub } from './hub.js';
import { errorAnswer, sendError } from './respond.js';
import { routeApi } from './routes.js';
import { streamEvents } from './sse.js';
import { WEB_ROOT, serveStatic, staticFile } from './static.js';

/** What the HTTP server needs to serve the admin API and the dashboard (`--listen`). */
export interface AdminOptions {
  readonly hub: AdminHub;
  /** The bearer token of `--admin-token-file`; without it the API is read-only and answers loopback clients only. */
  readonly token?: string;
  /** @default Date.now */
  readonly now?: () => number;
  /** Schedules the event streams' keepalives. @default systemTimers */
  readonly timers?: Timers;
  /** Milliseconds between keepalive comments on an event stream. @default 15000 */
  readonly keepaliveMs?: number;
  /** The dashboard's files. @default the package's `web/` */
  readonly webRoot?: string;
  /** The client's address (tests simulate remote clients). @default the socket's remote address */
  readonly clientAddress?: (req: IncomingMessage) => string | undefined;
}

/** Serves one request if it is the admin's: `true` when it answered, `false` to let the caller go on. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * The admin API below `/api/` and the dashboard's files at `/`. Checks access first (see `auth.ts`); logs refused
 * actions with the client's address and the path, never a header.
 */
export function createAdminHandler(options: AdminOptions, log: Logger): AdminHandler {
  const now = options.now ?? Date.now;
  const timers = options.timers ?? systemTimers;
  const root = options.webRoot ?? WEB_ROOT;
  const clientAddress = options.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress);

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const api = url.pathname === '/api' || url.pathname.startsWith('/api/');
    const file = api ? undefined : staticFile(url.pathname);
    if (!api && !file) return false;
    const method = req.method ?? 'GET';
    const address = clientAddress(req);
    const authorization = req.headers.authorization;
    const access = decideAccess({
      action: method !== 'GET' && method !== 'HEAD',
      page: !api,
      local: isLoopback(address) && isLocalHost(req.headers.host),
      tokenConfigured: options.token !== undefined,
      tokenSent: authorization !== undefined,
      tokenValid: options.token !== undefined && tokenMatches(options.token, authorization),
    });
    if (!access.allowed) {
      if (method === 'POST') log.warn({ client: address, path: url.pathname, status: access.status }, 'admin action refused');
      req.resume();
      sendError(res, access.status, access.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', access.message, access.challenge ? { 'www-authenticate': 'Bearer' } : {});
      return true;
    }
    try {
      if (file) {
        if (method !== 'GET' && method !== 'HEAD') return (sendError(res, 405, 'METHOD_NOT_ALLOWED', 'use GET', { allow: 'GET' }), true);
        if (!(await serveStatic(res, root, file))) sendError(res, 404, 'NOT_FOUND', `no file ${url.pathname}`);
        return true;
      }
      if (url.pathname === '/api/events') {
        if (method !== 'GET') return (sendError(res, 405, 'METHOD_NOT_ALLOWED', 'use GET', { allow: 'GET' }), true);
        streamEvents(res, { events: options.hub.events, timers, ...(options.keepaliveMs !== undefined ? { keepaliveMs: options.keepaliveMs } : {}) });
        return true;
      }
      const backend = options.hub.backend();
      if (!backend) {
        req.resume();
        sendError(res, 503, 'UNAVAILABLE', 'this instance is starting, or follows another one that leads: ask again shortly, or ask the leader', { 'retry-after': '5' });
        return true;
      }
      await routeApi({ req, res, backend, url, now: now() });
      if (method === 'POST') log.info({ client: address, path: url.pathname, status: res.statusCode }, 'admin action');
    } catch (err) {
      const answer = errorAnswer(err, now());
      if (answer.status >= 500) log.warn({ path: url.pathname, code: answer.code, err: err instanceof Error ? err.message : String(err) }, 'admin request failed');
      else if (method === 'POST') log.info({ client: address, path: url.pathname, status: answer.status, code: answer.code }, 'admin action refused');
      req.resume();
      if (!res.headersSent) sendError(res, answer.status, answer.code, answer.message, answer.headers);
      else res.end();
    }
    return true;
  };
}
