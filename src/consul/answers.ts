import type { IncomingHttpHeaders } from 'node:http';
import { WhisperError } from '../errors.js';
import type { KvItem } from './api.js';

/** Checks Consul's service list (in place): tags that are not strings are dropped, a missing list is empty. */
export function parseServices(body: unknown, where: string): Record<string, string[]> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new WhisperError('CONSUL_ERROR', `Consul at ${where} answered GET /v1/catalog/services with something other than an object`, {
      retryable: true,
    });
  }
  // Checked in place, not copied (10,000 services on every change). `__proto__` from JSON.parse is an own property,
  // read and written as one. Arrays of strings (the usual answer) are kept as they are.
  const services = body as Record<string, unknown>;
  for (const name of Object.keys(services)) {
    const tags = services[name];
    if (Array.isArray(tags) && tags.every(isString)) continue;
    // A service without tags may come as null from older agents.
    services[name] = Array.isArray(tags) ? tags.filter(isString) : [];
  }
  return services as Record<string, string[]>;
}

const isString = (t: unknown): t is string => typeof t === 'string';

/** One KV entry of Consul's answer, or undefined when it is not one. */
export function toKvItem(raw: unknown): KvItem | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { Key?: unknown; Value?: unknown; Session?: unknown; ModifyIndex?: unknown };
  if (typeof r.Key !== 'string') return undefined;
  return {
    key: r.Key,
    value: typeof r.Value === 'string' ? r.Value : '',
    ...(typeof r.Session === 'string' && r.Session !== '' ? { session: r.Session } : {}),
    modifyIndex: typeof r.ModifyIndex === 'number' ? r.ModifyIndex : 0,
  };
}

/** True for node-consul's error of a 404 answer. */
export function isNotFound(err: unknown): boolean {
  const cause = (err as { cause?: { statusCode?: unknown } }).cause;
  return cause?.statusCode === 404;
}

/** `X-Consul-Index` of an answer (0 when absent or not a number). */
export function headerIndex(headers: IncomingHttpHeaders): number {
  const raw = headers['x-consul-index'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(n) ? n : 0;
}
