/**
 * The state file's JSON: dates as ISO strings, checked field by field on the way in so that a damaged
 * file is recognised instead of half-used.
 */
import { BUCKET_KINDS, type BucketKind } from '../limits/config.js';
import type { BudgetEvent } from '../limits/replay.js';
import { STATE_VERSION, type CertError, type CertState, type WhisperState } from './types.js';
import { decodeTargets, encodeTargets } from './codec-targets.js';
import { date, object, string, type Json } from './json-read.js';

const iso = (d: Date | number): string => new Date(d).toISOString();

function encodeEvent(e: BudgetEvent): Json {
  switch (e.type) {
    case 'order':
      return { type: e.type, at: iso(e.at), names: e.names, ...(e.renewal ? { renewal: true } : {}) };
    case 'authzFailure':
      return { type: e.type, at: iso(e.at), identifier: e.identifier };
    case 'rateLimited':
      return {
        type: e.type,
        at: iso(e.at),
        until: iso(e.until),
        names: e.names,
        ...(e.renewal ? { renewal: true } : {}),
        ...(e.replaces ? { replaces: true } : {}),
        ...(e.bucket ? { bucket: e.bucket } : {}),
        ...(e.key !== undefined ? { key: e.key } : {}),
      };
  }
}

function encodeCert(c: CertState): Json {
  const out: Json = {};
  if (c.lastError) out.lastError = { at: iso(c.lastError.at), code: c.lastError.code, message: c.lastError.message };
  if (c.nextRenewal) out.nextRenewal = iso(c.nextRenewal);
  if (c.ariChosen !== undefined) out.ariChosen = c.ariChosen;
  if (c.ariWindow) out.ariWindow = { start: iso(c.ariWindow.start), end: iso(c.ariWindow.end) };
  if (c.ariRetryAfter) out.ariRetryAfter = iso(c.ariRetryAfter);
  if (c.deferredUntil) out.deferredUntil = iso(c.deferredUntil);
  if (c.ca) out.ca = c.ca;
  if (c.replacesRefused) out.replacesRefused = c.replacesRefused;
  if (c.ariCertId) out.ariCertId = c.ariCertId;
  if (c.written) out.written = c.written;
  if (c.unwantedSince) out.unwantedSince = iso(c.unwantedSince);
  if (c.renewRequested) out.renewRequested = { at: iso(c.renewRequested.at), by: c.renewRequested.by };
  if (c.imported) out.imported = { names: [...c.imported.names], at: iso(c.imported.at) };
  return out;
}

/** The file content for `state`: pretty-printed (operators read it), or on one line with `compact` (Consul KV). */
export function encodeState(state: WhisperState, options: { readonly compact?: boolean } = {}): string {
  const certs = Object.fromEntries(
    Object.keys(state.certs)
      .sort()
      .map((id) => [id, encodeCert(state.certs[id] ?? {})]),
  );
  const targets = encodeTargets(state.targets ?? {});
  // Absent when empty: the file of a daemon without targets stays as older versions wrote it.
  const doc = { version: STATE_VERSION, budget: state.budget.map(encodeEvent), certs, ...(targets ? { targets } : {}) };
  return options.compact ? JSON.stringify(doc) : `${JSON.stringify(doc, null, 2)}\n`;
}

// ---- decoding: each helper throws an Error naming the faulty field ----

function names(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length === 0) throw new Error(`${where} is not a list of names`);
  return v.map((n, i) => string(n, `${where}[${i}]`));
}

function flag(v: unknown, where: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw new Error(`${where} is not a boolean`);
}

function decodeEvent(raw: unknown, where: string): BudgetEvent {
  const o = object(raw, where);
  const at = date(o.at, `${where}.at`).getTime();
  switch (o.type) {
    case 'order':
      return { type: 'order', at, names: names(o.names, `${where}.names`), ...(flag(o.renewal, `${where}.renewal`) ? { renewal: true } : {}) };
    case 'authzFailure':
      return { type: 'authzFailure', at, identifier: string(o.identifier, `${where}.identifier`) };
    case 'rateLimited': {
      if (o.bucket !== undefined && !BUCKET_KINDS.includes(o.bucket as BucketKind)) throw new Error(`${where}.bucket is unknown`);
      return {
        type: 'rateLimited',
        at,
        until: date(o.until, `${where}.until`).getTime(),
        names: names(o.names, `${where}.names`),
        ...(flag(o.renewal, `${where}.renewal`) ? { renewal: true } : {}),
        ...(flag(o.replaces, `${where}.replaces`) ? { replaces: true } : {}),
        ...(o.bucket ? { bucket: o.bucket as BucketKind } : {}),
        ...(o.key !== undefined ? { key: string(o.key, `${where}.key`) } : {}),
      };
    }
    default:
      throw new Error(`${where}.type is unknown`);
  }
}

function decodeCert(raw: unknown, where: string): CertState {
  const o = object(raw, where);
  const out: { -readonly [K in keyof CertState]: CertState[K] } = {};
  if (o.lastError !== undefined) {
    const e = object(o.lastError, `${where}.lastError`);
    const lastError: CertError = {
      at: date(e.at, `${where}.lastError.at`),
      code: string(e.code, `${where}.lastError.code`),
      message: string(e.message, `${where}.lastError.message`),
    };
    out.lastError = lastError;
  }
  if (o.nextRenewal !== undefined) out.nextRenewal = date(o.nextRenewal, `${where}.nextRenewal`);
  const ariChosen = flag(o.ariChosen, `${where}.ariChosen`);
  if (ariChosen !== undefined) out.ariChosen = ariChosen;
  if (o.ariWindow !== undefined) {
    const w = object(o.ariWindow, `${where}.ariWindow`);
    out.ariWindow = { start: date(w.start, `${where}.ariWindow.start`), end: date(w.end, `${where}.ariWindow.end`) };
  }
  if (o.ariRetryAfter !== undefined) out.ariRetryAfter = date(o.ariRetryAfter, `${where}.ariRetryAfter`);
  if (o.deferredUntil !== undefined) out.deferredUntil = date(o.deferredUntil, `${where}.deferredUntil`);
  if (o.ca !== undefined) out.ca = string(o.ca, `${where}.ca`);
  if (o.replacesRefused !== undefined) out.replacesRefused = string(o.replacesRefused, `${where}.replacesRefused`);
  if (o.ariCertId !== undefined) out.ariCertId = string(o.ariCertId, `${where}.ariCertId`);
  if (o.written !== undefined) out.written = string(o.written, `${where}.written`);
  if (o.unwantedSince !== undefined) out.unwantedSince = date(o.unwantedSince, `${where}.unwantedSince`);
  if (o.renewRequested !== undefined) {
    const r = object(o.renewRequested, `${where}.renewRequested`);
    out.renewRequested = { at: date(r.at, `${where}.renewRequested.at`), by: string(r.by, `${where}.renewRequested.by`) };
  }
  if (o.imported !== undefined) {
    const r = object(o.imported, `${where}.imported`);
    out.imported = { names: names(r.names, `${where}.imported.names`), at: date(r.at, `${where}.imported.at`) };
  }
  return out;
}

/** Parse a state file. Throws an Error saying what is wrong: not JSON, another version, or a field of the wrong shape. */
export function decodeState(text: string): WhisperState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`, { cause: err });
  }
  const o = object(raw, 'the file');
  if (o.version !== STATE_VERSION) throw new Error(`version ${JSON.stringify(o.version)} is not ${STATE_VERSION}`);
  if (!Array.isArray(o.budget)) throw new Error('budget is not a list');
  const budget = o.budget.map((e, i) => decodeEvent(e, `budget[${i}]`));
  const certsRaw = object(o.certs, 'certs');
  // fromEntries defines own properties, so an id like `__proto__` stays data.
  const certs = Object.fromEntries(Object.entries(certsRaw).map(([id, c]) => [id, decodeCert(c, `certs.${id}`)]));
  const targets = o.targets === undefined ? undefined : decodeTargets(o.targets, 'targets');
  return { budget, certs, ...(targets ? { targets } : {}) };
}
