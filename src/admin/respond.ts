import type { IncomingMessage, ServerResponse } from 'node:http';
import { isWhisperError, type ErrorCode } from '../errors.js';

/** The `error` field of an API error: a {@link ErrorCode}, or one of the HTTP layer's own. */
export type ApiErrorCode =
  | ErrorCode
  | 'BAD_REQUEST'
  | 'FORBIDDEN'
  | 'METHOD_NOT_ALLOWED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAVAILABLE';

/** A refusal of the HTTP layer (bad parameter, wrong method, …), answered as `{ error, message }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Headers on every admin response: nothing is cached, sniffed, or sent on as a referrer. */
export const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/** Answers `body` as JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

/** Answers `{ error, message }`. */
export function sendError(res: ServerResponse, status: number, code: ApiErrorCode, message: string, headers: Readonly<Record<string, string>> = {}): void {
  sendJson(res, status, { error: code, message }, headers);
}

/** Codes of failures at a remote party (the CA, Consul, DNS, a target): 502, the gateway's upstream failed. */
const UPSTREAM = /^(ACME_|CONSUL_|DNS_|TARGET_|HTTP01$)/;

/**
 * The HTTP answer to an error thrown while serving: its status, code, message and headers. An error that is not a
 * WhisperError or an ApiError says only "internal error": its message was not written for users.
 */
export function errorAnswer(err: unknown, now: number): { status: number; code: ApiErrorCode; message: string; headers: Record<string, string> } {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message, headers: { ...err.headers } };
  if (!isWhisperError(err)) return { status: 500, code: 'INTERNAL', message: 'internal error', headers: {} };
  const base = { code: err.code, message: err.message, headers: {} as Record<string, string> };
  switch (err.code) {
    case 'NOT_FOUND':
      return { ...base, status: 404 };
    case 'CONFIG_INVALID':
      return { ...base, status: 400 };
    case 'UNAUTHORIZED':
      return { ...base, status: 401, headers: { 'www-authenticate': 'Bearer' } };
    case 'RATE_LIMIT_DEFERRED': {
      const seconds = err.retryAfter ? Math.max(1, Math.ceil((err.retryAfter.getTime() - now) / 1000)) : 60;
      return { ...base, status: 429, headers: { 'retry-after': String(seconds) } };
    }
    default:
      return { ...base, status: UPSTREAM.test(err.code) ? 502 : 500 };
  }
}

/** Largest request body accepted (an action's options are a few bytes). */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON object body: no body at all is `{}` (so `curl -X POST` works); any other body must be
 * `application/json` (415), at most `maxBytes` (413), and an object (400).
 */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const length = Number(req.headers['content-length'] ?? NaN);
  if (length > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Stops reading at once: a client that lies about its length must not make the daemon buffer its upload.
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', 'the body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiError(400, 'BAD_REQUEST', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

function tooLarge(maxBytes: number): ApiError {
  // The connection closes after the answer: the rest of an oversized upload is not worth reading.
  return new ApiError(413, 'PAYLOAD_TOO_LARGE', `the body must be at most ${maxBytes} bytes`, { connection: 'close' });
}
