import type { IncomingMessage } from 'node:http';
import { createAdminHub, type AdminHub } from '../../src/admin/hub.js';
import type { AdminOptions } from '../../src/admin/handler.js';
import { createMetrics } from '../../src/http/metrics.js';
import { startHttpServer } from '../../src/http/server.js';
import { silentLogger, type Logger } from '../../src/log.js';

export const TOKEN = 'test-admin-token-0123456789';

/** The HTTP server with the admin handler on 127.0.0.1:0; `remote` makes every client look non-loopback. */
export async function startAdmin(options: Partial<AdminOptions> & { remote?: boolean; log?: Logger; hub?: AdminHub } = {}) {
  const hub = options.hub ?? createAdminHub();
  const { remote, log, ...admin } = options;
  const server = await startHttpServer({
    listen: { host: '127.0.0.1', port: 0 },
    metrics: createMetrics({ defaultMetrics: false }),
    health: () => Promise.resolve({ ok: true }),
    ready: () => Promise.resolve({ ready: true }),
    log: log ?? silentLogger(),
    admin: { ...admin, hub, ...(remote ? { clientAddress: (_req: IncomingMessage) => '203.0.113.9' } : {}) },
  });
  const url = `http://127.0.0.1:${server.port}`;
  const call = (path: string, init: RequestInit & { token?: string } = {}) => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${url}${path}`, { ...rest, headers });
  };
  const post = (path: string, body?: unknown, init: { token?: string; headers?: Record<string, string> } = {}) =>
    call(path, {
      method: 'POST',
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(init.token !== undefined ? { token: init.token } : {}),
    });
  return { server, hub, url, call, post };
}

/** An error answer of the API. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

/** A response's JSON, typed by the caller (the API's shapes are checked by the assertions that follow). */
export function json<T = ErrorBody>(r: Response): Promise<T> {
  return r.json() as Promise<T>;
}
