/** Checked reading of the state's JSON: each helper throws an Error naming the faulty field (`where`). */

/** A JSON object. */
export type Json = Record<string, unknown>;

export function object(v: unknown, where: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where} is not an object`);
  return v as Json;
}

export function string(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new Error(`${where} is not a string`);
  return v;
}

export function date(v: unknown, where: string): Date {
  const d = new Date(string(v, where));
  if (Number.isNaN(d.getTime())) throw new Error(`${where} is not a date`);
  return d;
}
