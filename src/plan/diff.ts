import type { WantedCert } from './types.js';

/** What changed between two plans, by certificate id; each list sorted by id. */
export interface PlanDiff {
  /** Ids only in the next plan. */
  readonly added: readonly WantedCert[];
  /** Ids in both whose names differ (the next version). A change of `services` only is not a change. */
  readonly changed: readonly WantedCert[];
  /** Ids only in the previous plan. */
  readonly removed: readonly WantedCert[];
}

/** True when both describe the same certificate: same id and the same names in the same order. */
export function certsEqual(a: WantedCert, b: WantedCert): boolean {
  return a.id === b.id && a.names.length === b.names.length && a.names.every((name, i) => name === b.names[i]);
}

/** Compares two plans (or anything with `certs`) by certificate id. */
export function diffPlans(
  previous: { readonly certs: readonly WantedCert[] },
  next: { readonly certs: readonly WantedCert[] },
): PlanDiff {
  const before = new Map(previous.certs.map((cert) => [cert.id, cert]));
  const after = new Map(next.certs.map((cert) => [cert.id, cert]));
  const byId = (a: WantedCert, b: WantedCert): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const added: WantedCert[] = [];
  const changed: WantedCert[] = [];
  const removed: WantedCert[] = [];
  for (const [id, cert] of after) {
    const old = before.get(id);
    if (old === undefined) added.push(cert);
    else if (!certsEqual(old, cert)) changed.push(cert);
  }
  for (const [id, cert] of before) if (!after.has(id)) removed.push(cert);
  return Object.freeze({
    added: Object.freeze(added.sort(byId)),
    changed: Object.freeze(changed.sort(byId)),
    removed: Object.freeze(removed.sort(byId)),
  });
}
