import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { listenOn } from './listen.js';
import type { ListenAddress } from './address.js';
import type { WhisperMetrics } from './metrics.js';
import type { Health } from './health.js';
import type { Readiness } from './ready.js';
import { createAdminHandler, type AdminHandler, type AdminOptions } from '../admin/handler.js';

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  readonly listen: ListenAddress;
  readonly metrics: WhisperMetrics;
  /** Answers `/healthz` (the daemon checks that its certificate folder is writable). */
  readonly health: () => Promise<Health>;
  /** Answers `/readyz`. */
  readonly ready: () => Promise<Readiness>;
  readonly log: Logger;
  /** Serves the admin API (`/api/`) and the dashboard (`/`) too. */
  readonly admin?: AdminOptions;
}

/** The running metrics and health server. */
export interface HttpServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Stops listening and drops open connections. Safe to repeat. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

const OWN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

async function route(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions, admin: AdminHandler | undefined): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  // The admin handler may take POSTs (its actions); the probes and metrics answer GET and HEAD only.
  if (!OWN_PATHS.has(path) && admin && (await admin(req, res))) return;
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
  if (path === '/healthz') {
    const h = await options.health();
    return send(res, h.ok ? 200 : 503, 'application/json', `${JSON.stringify(h.ok ? { status: 'ok' } : { status: 'failing', reason: h.reason })}\n`);
  }
  if (path === '/readyz') {
    const r = await options.ready();
    return send(res, r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r.ready ? { status: 'ready' } : { status: 'not ready', reason: r.reason })}\n`);
  }
  if (path === '/metrics') {
    const body = await options.metrics.registry.metrics();
    return send(res, 200, options.metrics.registry.contentType, body);
  }
  send(res, 404, 'text/plain', `not found: try /metrics, /healthz or /readyz${admin ? ', or / for the dashboard' : ''}\n`);
}

/**
 * Serves `/metrics` (Prometheus), `/healthz` and `/readyz` (each 200, or 503 with a JSON reason), and with `admin` the
 * admin API and the dashboard. Fails with `CONFIG_INVALID` naming `--listen` when the address cannot be bound.
 * Closing drops open connections, the dashboards' event streams among them.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const admin = options.admin ? createAdminHandler(options.admin, options.log.child({ component: 'admin' })) : undefined;
  const server = createServer((req, res) => {
    route(req, res, options, admin).catch((err: unknown) => {
      options.log.warn({ path: req.url, err: errorMessage(err) }, 'HTTP request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.end();
    });
  });
  return listenOn(server, options.listen, '--listen', 'metrics and health endpoints', options.log);
}
