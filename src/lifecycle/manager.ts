import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { StoredCert } from '../store/types.js';
import type { WantedCert } from '../plan/types.js';
import type { StateKeeper } from '../state/keeper.js';
import type { Timers } from '../time.js';
import { fetchRenewalInfo, type AriFetch, type RenewalInfo } from '../acme/ari.js';
import type { BudgetVerdict } from '../limits/budget.js';
import type { BudgetOrder } from '../limits/keys.js';
import { ariToAsk, decide, type LifecycleDecision, type LifecycleInput } from './decide.js';
import type { RenewBefore } from './schedule.js';

/** Options of {@link RenewalManager}. */
export interface RenewalManagerOptions {
  readonly state: StateKeeper;
  /** Directory URL of the configured CA: a certificate recorded as issued by another one is replaced at once. */
  readonly directoryUrl?: string;
  /** The CA's `renewalInfo` URL, or `undefined` when its directory lists none (no ARI: lifetime rule). */
  readonly renewalInfoUrl: () => Promise<string | undefined>;
  readonly fetch: AriFetch;
  /** Queue a renewal check of the certificate. */
  readonly enqueue: (id: string, reason: string) => void;
  /** A certificate's own `renewBefore` (its policy's `renew_before`), when it has one; else `renewBefore`. */
  readonly renewBeforeOf?: (cert: WantedCert) => RenewBefore | undefined;
  readonly renewBefore?: RenewBefore;
  /** Timers further away than this are left to the next sweep. @default 24 h */
  readonly horizonMs?: number;
  readonly timers: Timers;
  readonly now: () => number;
  readonly random: () => number;
  readonly log: Logger;
}

/**
 * The effects around {@link decide}: it reads a certificate's inputs, asks the CA's ARI endpoint when the decision
 * needs a window it does not have, takes the pure decision, then applies it in one place: one state write, and a
 * timer per certificate so a short-lived certificate is renewed on time between sweeps.
 */
export class RenewalManager {
  private readonly timers = new Map<string, unknown>();
  /** Issuer name → directory URL, from certificates whose origin the state records (to place files that have none). */
  private readonly issuers = new Map<string, string>();

  constructor(private readonly o: RenewalManagerOptions) {}

  /**
   * Decides for `cert`, given what the folder holds and the rate-limit budget's verdict for an order now (none: no
   * budget); records what the decision sets and schedules the next look.
   */
  async decide(
    cert: WantedCert,
    stored: StoredCert | undefined,
    signal?: AbortSignal,
    budget: (order: BudgetOrder) => BudgetVerdict = () => ({ ok: true }),
  ): Promise<LifecycleDecision> {
    const now = this.o.now();
    const renewBefore = this.o.renewBeforeOf?.(cert) ?? this.o.renewBefore;
    const base: LifecycleInput = {
      cert,
      stored,
      saved: this.o.state.cert(cert.id),
      now,
      ...(this.o.directoryUrl ? { directoryUrl: this.o.directoryUrl } : {}),
      ariOffered: stored !== undefined && (await this.ariUrl()) !== undefined,
      issuers: this.issuers,
      ...(renewBefore ? { renewBefore } : {}),
      random: this.o.random,
      budget,
    };
    const certId = ariToAsk(base);
    const info = certId ? await this.askAri(cert.id, certId, signal) : undefined;
    const decision = decide({ ...base, ...(certId && info ? { ari: { certId, info } } : {}) });

    if (Object.keys(decision.state).length > 0) this.o.state.setCert(cert.id, (old) => ({ ...old, ...decision.state }));
    const ca = this.o.state.cert(cert.id).ca;
    if (stored && ca !== undefined) this.issuers.set(stored.issuer, ca);
    if (decision.action === 'wait') this.schedule(cert.id, decision.recheckAt.getTime());
    else if (decision.reason === 'issued by another CA') {
      this.o.log.info({ cert: cert.id, issuedBy: ca, configured: this.o.directoryUrl }, 'certificate issued by another CA; replacing it');
    }
    return decision;
  }

  /** Learns which CA issued the folder's certificates whose origin the state records (call once at start). */
  learnIssuers(certs: readonly StoredCert[]): void {
    for (const c of certs) {
      const ca = this.o.state.cert(c.id).ca;
      if (ca !== undefined) this.issuers.set(c.issuer, ca);
    }
  }

  /** Forget a certificate's timer (no longer wanted, or a new one was just stored). */
  forget(id: string): void {
    const t = this.timers.get(id);
    if (t !== undefined) this.o.timers.clearTimeout(t);
    this.timers.delete(id);
  }

  /** After a new certificate was stored: drop the old one's ARI data and refusals; record the CA that issued it. */
  renewed(id: string): void {
    this.forget(id);
    this.o.state.setCert(id, (old) => ({
      ...old,
      ariWindow: undefined,
      ariRetryAfter: undefined,
      ariCertId: undefined,
      nextRenewal: undefined,
      ariChosen: undefined,
      replacesRefused: undefined,
      renewRequested: undefined,
      ...(this.o.directoryUrl ? { ca: this.o.directoryUrl } : {}),
    }));
  }

  /** Cancel every timer. */
  stop(): void {
    for (const id of [...this.timers.keys()]) this.forget(id);
  }

  private schedule(id: string, at: number): void {
    this.forget(id);
    const delay = Math.max(0, at - this.o.now());
    if (delay > (this.o.horizonMs ?? 24 * 3_600_000)) return;
    this.timers.set(id, this.o.timers.setTimeout(() => {
      this.timers.delete(id);
      this.o.enqueue(id, 'renewal timer');
    }, delay));
  }

  private ariUrlCache: Promise<string | undefined> | undefined;
  private ariUrl(): Promise<string | undefined> {
    this.ariUrlCache ??= this.o.renewalInfoUrl().catch((err: unknown) => {
      this.ariUrlCache = undefined;
      this.o.log.debug({ err: errorMessage(err) }, 'could not read the directory for ARI');
      return undefined;
    });
    return this.ariUrlCache;
  }

  /** The CA's ARI answer for `certId`, or `undefined` (logged) when it cannot be had: the decision then does without. */
  private async askAri(id: string, certId: string, signal?: AbortSignal): Promise<RenewalInfo | undefined> {
    const url = await this.ariUrl();
    if (!url) return undefined;
    try {
      const info = await fetchRenewalInfo(url, certId, { fetch: this.o.fetch, now: this.o.now, ...(signal ? { signal } : {}) });
      this.o.log.debug({ cert: id, start: info.start.toISOString(), end: info.end.toISOString() }, 'ARI window');
      return info;
    } catch (err) {
      this.o.log.warn({ cert: id, err: errorMessage(err) }, 'ARI unavailable for this certificate; using the lifetime rule');
      return undefined;
    }
  }
}
