import type { IncomingMessage, ServerResponse } from 'node:http';
import { REVOCATION_REASONS, type ActionSource, type OpsBackend, type RevocationReason } from '../ops/types.js';
import { parseHistoryQuery } from './history-query.js';
import { ApiError, readJsonBody, sendJson } from './respond.js';

/** What a route gets: the request, the attached backend, the parsed URL and the clock. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly backend: OpsBackend;
  readonly url: URL;
  readonly now: number;
}

/** The header the dashboard (`dashboard`) and the commands (`cli`) send so that their actions are recorded as theirs, not `api`. */
export const CLIENT_HEADER = 'x-whisper-client';

function actionSource(req: IncomingMessage): ActionSource {
  const client = req.headers[CLIENT_HEADER];
  return client === 'dashboard' || client === 'cli' ? client : 'api';
}

function methodNotAllowed(allow: string): ApiError {
  return new ApiError(405, 'METHOD_NOT_ALLOWED', `use ${allow}`, { allow });
}

async function renew(ctx: RouteContext, id: string): Promise<void> {
  const body = await readJsonBody(ctx.req);
  if (body.force !== undefined && typeof body.force !== 'boolean') throw new ApiError(400, 'BAD_REQUEST', 'force: expected true or false');
  const result = await ctx.backend.renew(id, { force: body.force ?? true, by: actionSource(ctx.req) });
  sendJson(ctx.res, 202, result);
}

async function revoke(ctx: RouteContext, id: string): Promise<void> {
  const body = await readJsonBody(ctx.req);
  const reason = body.reason ?? 'unspecified';
  if (typeof reason !== 'string' || !Object.hasOwn(REVOCATION_REASONS, reason)) {
    throw new ApiError(400, 'BAD_REQUEST', `reason: expected one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
  }
  const result = await ctx.backend.revoke(id, { reason: reason as RevocationReason, by: actionSource(ctx.req) });
  sendJson(ctx.res, 200, result);
}

/** Largest import request: PEM chains with their keys, a few KiB each. */
const MAX_IMPORT_BYTES = 4 << 20;

/** `POST /api/import` `{ pems: [{ name, pem }] }`: adopts certificates issued elsewhere, all or none. */
async function importPems(ctx: RouteContext): Promise<void> {
  const body = await readJsonBody(ctx.req, MAX_IMPORT_BYTES);
  const pems = body.pems;
  if (!Array.isArray(pems) || pems.length === 0 || !pems.every((p) => typeof p === 'object' && p !== null && typeof (p as { name?: unknown }).name === 'string' && typeof (p as { pem?: unknown }).pem === 'string')) {
    throw new ApiError(400, 'BAD_REQUEST', 'pems: expected a non-empty list of { "name": string, "pem": string }');
  }
  const imported = await ctx.backend.importCerts(pems as Array<{ name: string; pem: string }>, { by: actionSource(ctx.req) });
  sendJson(ctx.res, 200, { imported });
}

async function certificate(ctx: RouteContext, id: string): Promise<void> {
  const found = (await ctx.backend.certificates()).find((c) => c.id === id);
  if (!found) throw new ApiError(404, 'NOT_FOUND', `no certificate ${JSON.stringify(id)}`);
  sendJson(ctx.res, 200, found);
}

function history(ctx: RouteContext): void {
  const q = parseHistoryQuery(ctx.url.searchParams, ctx.now);
  const rows = ctx.backend.history(q);
  // A full page may have a successor; the client asks for it with `before` (rows come newest first).
  const last = rows.length >= q.limit ? rows[rows.length - 1] : undefined;
  sendJson(ctx.res, 200, { rows, ...(last ? { next: last.id } : {}) });
}

/** The certificate routes below `/api/certificates/`: `<id>`, `<id>/renew`, `<id>/revoke`. */
async function certificateRoute(ctx: RouteContext, rest: string[]): Promise<void> {
  const [raw, action, ...extra] = rest;
  let id: string;
  try {
    id = decodeURIComponent(raw ?? '');
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', 'the certificate id is not valid percent-encoding');
  }
  if (id === '' || extra.length > 0) throw new ApiError(404, 'NOT_FOUND', 'no such API path');
  const method = ctx.req.method ?? 'GET';
  if (action === undefined) {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET');
    return certificate(ctx, id);
  }
  if (action !== 'renew' && action !== 'revoke') throw new ApiError(404, 'NOT_FOUND', `no action ${JSON.stringify(action)} (renew, revoke)`);
  if (method !== 'POST') throw methodNotAllowed('POST');
  return action === 'renew' ? renew(ctx, id) : revoke(ctx, id);
}

/**
 * Serves one `/api/` request other than `/api/events` against the attached backend. Throws an {@link ApiError} (or
 * the backend's WhisperError) for the handler to answer.
 */
export async function routeApi(ctx: RouteContext): Promise<void> {
  const parts = ctx.url.pathname.split('/').slice(2); // ['', 'api', ...]
  const [head, ...rest] = parts;
  if (head === 'certificates' && rest.length > 0 && !(rest.length === 1 && rest[0] === '')) return certificateRoute(ctx, rest);
  const method = ctx.req.method ?? 'GET';
  if (head === 'import' && rest.every((p) => p === '')) {
    if (method !== 'POST') throw methodNotAllowed('POST');
    return importPems(ctx);
  }
  const reads: Record<string, () => Promise<void> | void> = {
    certificates: async () => sendJson(ctx.res, 200, { certificates: await ctx.backend.certificates() }),
    history: () => history(ctx),
    limits: () => sendJson(ctx.res, 200, ctx.backend.limits()),
    queue: () => sendJson(ctx.res, 200, { jobs: ctx.backend.queue() }),
    account: async () => sendJson(ctx.res, 200, await ctx.backend.account()),
  };
  const read = head !== undefined && Object.hasOwn(reads, head) && rest.every((p) => p === '') ? reads[head] : undefined;
  if (!read) throw new ApiError(404, 'NOT_FOUND', 'no such API path: try /api/certificates, /api/history, /api/limits, /api/queue, /api/account, /api/events');
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET');
  await read();
}
