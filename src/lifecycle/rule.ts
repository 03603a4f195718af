/** Options of {@link renewalDue}. */
export interface RenewalRule {
  /** Renew when this fraction of the lifetime is left. @default 1/3 */
  readonly fractionLeft?: number;
}

/** The moment a certificate should be renewed without ARI: when `fractionLeft` of its lifetime remains. */
export function renewalTime(cert: { notBefore: Date; notAfter: Date }, rule: RenewalRule = {}): Date {
  const fraction = rule.fractionLeft ?? 1 / 3;
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  return new Date(cert.notAfter.getTime() - lifetime * fraction);
}

/** Whether the certificate is due for renewal at `now`. */
export function renewalDue(cert: { notBefore: Date; notAfter: Date }, now: number, rule: RenewalRule = {}): boolean {
  return now >= renewalTime(cert, rule).getTime();
}

/** Whether a stored certificate covers exactly the wanted names (order-insensitive). */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((n) => set.has(n));
}
