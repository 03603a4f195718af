import { ariCertId, type RenewalInfo } from '../acme/ari.js';
import type { BudgetVerdict } from '../limits/budget.js';
import { classifyOrder } from '../limits/classify.js';
import type { BudgetOrder } from '../limits/keys.js';
import type { WantedCert } from '../plan/types.js';
import type { CertState } from '../state/types.js';
import type { StoredCert } from '../store/types.js';
import { originOf } from './origin.js';
import { sameNames } from './rule.js';
import { nextRenewal, type RenewBefore } from './schedule.js';

/** Why a certificate is ordered. */
export type OrderReason = 'missing' | 'names changed' | 'expired' | 'renewal due' | 'issued by another CA' | 'requested';

/** The fields of a certificate's state a decision sets (`undefined` clears one). */
export type CertPatch = { -readonly [K in keyof CertState]?: CertState[K] | undefined };

/** What to do with one wanted certificate now, and what its state becomes. */
export type LifecycleDecision =
  | {
      readonly action: 'order';
      readonly reason: OrderReason;
      /** ARI certID of the certificate this order replaces (exempt from the CA's limits). */
      readonly replaces?: string;
      /** The order as the budget sees it, for its check (done) and its record (after the order). */
      readonly order: BudgetOrder;
      readonly state: CertPatch;
    }
  | {
      readonly action: 'defer';
      readonly reason: OrderReason;
      /** When the budget has a token again for every bucket the order needs. */
      readonly until: Date;
      readonly bucket: string;
      readonly key: string;
      readonly state: CertPatch;
    }
  | {
      readonly action: 'wait';
      /** When the certificate is due. */
      readonly nextAt: Date;
      /** When to look again: the due moment, or the CA's ARI `Retry-After` if sooner. */
      readonly recheckAt: Date;
      /** Whether the CA's ARI window chose `nextAt`. */
      readonly ari: boolean;
      readonly state: CertPatch;
    };

/** Everything a decision depends on; no field is read from anywhere else. */
export interface LifecycleInput {
  readonly cert: WantedCert;
  /** What the folder holds for it. */
  readonly stored: StoredCert | undefined;
  readonly saved: CertState;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** The CA the daemon orders from. */
  readonly directoryUrl?: string;
  /** Whether that CA's directory lists `renewalInfo`. */
  readonly ariOffered: boolean;
  /** Issuer name → CA, from certificates whose CA the state records. */
  readonly issuers: ReadonlyMap<string, string>;
  /**
   * The CA's answer for the certID {@link ariToAsk} named, when it was asked and answered. The daemon's CA answering
   * for a certificate proves it issued it: a certificate recorded under another directory URL (the same CA behind
   * another address) is then not replaced.
   */
  readonly ari?: { readonly certId: string; readonly info: RenewalInfo };
  readonly renewBefore?: RenewBefore;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  /** The rate-limit budget's verdict for an order now. */
  readonly budget: (order: BudgetOrder) => BudgetVerdict;
}

function certIdOf(pem: string): string | undefined {
  try {
    return ariCertId(pem);
  } catch {
    return undefined;
  }
}

/** Whether the daemon's CA answered ARI for the stored certificate: then it is the CA that issued it. */
function ariConfirms(input: LifecycleInput): boolean {
  return input.ari !== undefined && input.stored !== undefined && input.ari.certId === certIdOf(input.stored.cert);
}

/** The CA of the stored certificate: the daemon's when its ARI knows it, else the state's record, else its issuer's. */
function caOf(input: LifecycleInput): string | undefined {
  if (ariConfirms(input) && input.directoryUrl !== undefined) return input.directoryUrl;
  return input.saved.ca ?? (input.stored ? originOf(input.stored.issuer, input.issuers) : undefined);
}

function isOtherCa(input: LifecycleInput): boolean {
  const ca = caOf(input);
  return ca !== undefined && input.directoryUrl !== undefined && ca !== input.directoryUrl;
}

/**
 * The certID whose ARI window must be asked for before deciding, or `undefined`. When the CA offers ARI: for a stored
 * certificate recorded under another CA (does the daemon's CA know it?), and for one of the daemon's CA with the
 * wanted names unless a window saved for that very certificate is still within the CA's `Retry-After`.
 */
export function ariToAsk(input: LifecycleInput): string | undefined {
  const { stored, saved, now } = input;
  if (!stored || !input.ariOffered) return undefined;
  const certId = certIdOf(stored.cert);
  if (certId === undefined) return undefined;
  // Recorded under another CA: the daemon's CA is asked whether it knows the certificate (same CA, new address).
  if (isOtherCa(input)) return certId;
  if (!sameNames(stored.names, input.cert.names)) return undefined;
  const cached = saved.ariCertId === certId && saved.ariWindow && saved.ariRetryAfter && saved.ariRetryAfter.getTime() > now;
  return cached ? undefined : certId;
}

/** An order, or its deferral when the budget cannot pay for it now. */
function orderOrDefer(input: LifecycleInput, reason: OrderReason, renewal: boolean, replaces: string | undefined, state: CertPatch): LifecycleDecision {
  const order = classifyOrder(input.cert.names, replaces !== undefined, renewal);
  const verdict = input.budget(order);
  if (!verdict.ok) return { action: 'defer', reason, until: verdict.until, bucket: verdict.bucket, key: verdict.key, state };
  return { action: 'order', reason, ...(replaces ? { replaces } : {}), order, state };
}

/**
 * Decides for one wanted certificate, as a function of its inputs alone: order it (missing, names changed, issued
 * by another CA, expired, renewal due), with or without `replaces`; defer the order while the budget cannot pay
 * for it; or wait until it is due. `replaces` goes only to the CA that issued the certificate, never again once
 * that CA refused it, and only with an ARI window of that very certificate. The returned `state` is what the
 * certificate's state becomes (its CA once placed, the ARI window asked, the renewal moment drawn).
 */
export function decide(input: LifecycleInput): LifecycleDecision {
  const { cert, stored, saved, now } = input;
  if (!stored) return orderOrDefer(input, 'missing', false, undefined, {});
  const ca = caOf(input);
  const state: CertPatch = ca !== undefined && saved.ca !== ca ? { ca } : {};
  const same = sameNames(stored.names, cert.names);
  if (isOtherCa(input)) return orderOrDefer(input, 'issued by another CA', same, undefined, state);

  const certId = certIdOf(stored.cert);
  const replaces = certId !== undefined && saved.replacesRefused !== certId ? certId : undefined;
  if (!same) {
    const shares = stored.names.some((n) => cert.names.includes(n));
    return orderOrDefer(input, 'names changed', false, shares && input.ariOffered ? replaces : undefined, state);
  }

  // The window: the one just asked for, else the one saved for this very certificate; never another's.
  const asked = input.ari && input.ari.certId === certId ? input.ari.info : undefined;
  const mine = certId !== undefined && saved.ariCertId === certId;
  const window = asked ?? (mine && saved.ariWindow ? saved.ariWindow : undefined);
  if (asked) Object.assign(state, { ariWindow: { start: asked.start, end: asked.end }, ariRetryAfter: asked.retryAfter, ariCertId: certId });
  const ari = window ? { ...window, ...(mine && saved.ariChosen && saved.nextRenewal ? { chosen: saved.nextRenewal } : {}) } : undefined;

  if (now >= stored.notAfter.getTime()) return orderOrDefer(input, 'expired', true, ari ? replaces : undefined, state);
  // An operator asked for it (the admin API, `whisper-ts renew --force`, a revocation): now, whatever the schedule.
  if (saved.renewRequested) return orderOrDefer(input, 'requested', true, input.ariOffered ? replaces : undefined, state);
  const plan = nextRenewal(stored, { ...(ari ? { ari } : {}), ...(input.renewBefore ? { renewBefore: input.renewBefore } : {}), random: input.random, now: () => now });
  Object.assign(state, { nextRenewal: plan.at, ariChosen: plan.source === 'ari' });
  if (plan.at.getTime() <= now) return orderOrDefer(input, 'renewal due', true, ari ? replaces : undefined, state);
  const retryAfter = asked?.retryAfter ?? (mine ? saved.ariRetryAfter : undefined);
  const recheck = ari && retryAfter ? Math.min(plan.at.getTime(), retryAfter.getTime()) : plan.at.getTime();
  return { action: 'wait', nextAt: plan.at, recheckAt: new Date(recheck), ari: plan.source === 'ari', state };
}
