/**
 * The delivery journal's JSON (the `targets` section of the state file, and the local journal of per-instance
 * targets): dates as ISO strings, checked field by field on the way in.
 */
import type { CertError, TargetJournalData, TargetRecord } from './types.js';
import { date, object, string, type Json } from './json-read.js';

function encodeRecord(r: TargetRecord): Json {
  const out: Json = {};
  if (r.delivered !== undefined) out.delivered = r.delivered;
  if (r.at) out.at = r.at.toISOString();
  if (r.lastError) out.lastError = { at: r.lastError.at.toISOString(), code: r.lastError.code, message: r.lastError.message };
  if (r.attempts) out.attempts = r.attempts;
  if (r.memo && Object.keys(r.memo).length > 0) out.memo = r.memo;
  if (r.removing !== undefined) out.removing = r.removing;
  return out;
}

/** The JSON of a journal, keys sorted; `undefined` when it holds nothing. */
export function encodeTargets(data: TargetJournalData): Json | undefined {
  const out: Json = {};
  for (const name of Object.keys(data).sort()) {
    const certs = data[name] ?? {};
    const ids = Object.keys(certs).sort();
    if (ids.length === 0) continue;
    out[name] = Object.fromEntries(ids.map((id) => [id, encodeRecord(certs[id] ?? {})]));
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function decodeMemo(v: unknown, where: string): Record<string, string | number | boolean> {
  const o = object(v, where);
  for (const [k, x] of Object.entries(o)) {
    if (!['string', 'number', 'boolean'].includes(typeof x)) throw new Error(`${where}.${k} is not a string, number or boolean`);
  }
  return Object.fromEntries(Object.entries(o)) as Record<string, string | number | boolean>;
}

function decodeRecord(raw: unknown, where: string): TargetRecord {
  const o = object(raw, where);
  const out: { -readonly [K in keyof TargetRecord]: TargetRecord[K] } = {};
  if (o.delivered !== undefined) out.delivered = string(o.delivered, `${where}.delivered`);
  if (o.at !== undefined) out.at = date(o.at, `${where}.at`);
  if (o.lastError !== undefined) {
    const e = object(o.lastError, `${where}.lastError`);
    const lastError: CertError = { at: date(e.at, `${where}.lastError.at`), code: string(e.code, `${where}.lastError.code`), message: string(e.message, `${where}.lastError.message`) };
    out.lastError = lastError;
  }
  if (o.attempts !== undefined) {
    if (typeof o.attempts !== 'number' || !Number.isInteger(o.attempts) || o.attempts < 0) throw new Error(`${where}.attempts is not a count`);
    out.attempts = o.attempts;
  }
  if (o.memo !== undefined) out.memo = decodeMemo(o.memo, `${where}.memo`);
  if (o.removing !== undefined) out.removing = string(o.removing, `${where}.removing`);
  return out;
}

/** Parses a journal's JSON; throws an Error naming the faulty field. */
export function decodeTargets(raw: unknown, where: string): TargetJournalData {
  const o = object(raw, where);
  // fromEntries defines own properties, so a name or id like `__proto__` stays data.
  return Object.fromEntries(
    Object.entries(o).map(([name, certs]) => [
      name,
      Object.fromEntries(Object.entries(object(certs, `${where}.${name}`)).map(([id, r]) => [id, decodeRecord(r, `${where}.${name}.${id}`)])),
    ]),
  );
}
