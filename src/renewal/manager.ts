import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { StoredCert } from '../store/types.js';
import type { WantedCert } from '../plan/types.js';
import type { StateKeeper } from '../state/keeper.js';
import type { Timers } from '../time.js';
import { ariCertId, fetchRenewalInfo, type AriFetch } from './ari.js';
import { nextRenewal, type RenewBefore } from './schedule.js';
import { originOf } from './origin.js';
import { sameNames } from './rule.js';

/** What to do with one wanted certificate now. */
export type RenewalDecision =
  | { readonly order: false; readonly nextAt: Date; readonly ari: boolean }
  | {
      readonly order: true;
      readonly reason: 'missing' | 'names changed' | 'expired' | 'renewal due' | 'issued by another CA';
      /** ARI certID of the certificate this order replaces (exempt from the CA's limits). */
      readonly replaces?: string;
      /** Same names as the stored certificate: a renewal for the budget. */
      readonly renewal: boolean;
    };

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
  readonly renewBefore?: RenewBefore;
  /** Timers further away than this are left to the next sweep. @default 24 h */
  readonly horizonMs?: number;
  readonly timers: Timers;
  readonly now: () => number;
  readonly random: () => number;
  readonly log: Logger;
}

/**
 * Decides when each certificate is renewed: the CA's ARI window (RFC 9773) when it offers one, re-polled after
 * its `Retry-After`; else the lifetime rule. Keeps one timer per certificate so a short-lived certificate is
 * renewed on time between sweeps.
 */
export class RenewalManager {
  private readonly timers = new Map<string, unknown>();
  /** Issuer name → directory URL, from certificates whose origin the state records (to place files that have none). */
  private readonly issuers = new Map<string, string>();

  constructor(private readonly o: RenewalManagerOptions) {}

  /** Decides for `cert`, given what the folder holds; schedules the next check when nothing is due. */
  async decide(cert: WantedCert, stored: StoredCert | undefined, signal?: AbortSignal): Promise<RenewalDecision> {
    const now = this.o.now();
    if (!stored) return { order: true, reason: 'missing', renewal: false };
    let saved = this.o.state.cert(cert.id);
    if (saved.ca !== undefined) this.issuers.set(stored.issuer, saved.ca);
    else {
      // A file of unknown origin (whisper's, an older release's): placed by its issuer when something tells.
      const origin = originOf(stored.issuer, this.issuers);
      if (origin !== undefined) {
        this.o.state.setCert(cert.id, (old) => ({ ...old, ca: origin }));
        saved = this.o.state.cert(cert.id);
      }
    }
    const otherCa = saved.ca !== undefined && this.o.directoryUrl !== undefined && saved.ca !== this.o.directoryUrl;
    // `replaces` only to the CA that issued the certificate, and never again once that CA refused it.
    const certId = otherCa ? undefined : safeCertId(stored.cert);
    const replaces = certId !== undefined && saved.replacesRefused !== certId ? certId : undefined;
    const same = sameNames(stored.names, cert.names);
    if (otherCa) {
      this.o.log.info({ cert: cert.id, issuedBy: saved.ca, configured: this.o.directoryUrl }, 'certificate issued by another CA; replacing it');
      return { order: true, reason: 'issued by another CA', renewal: same };
    }
    const shares = stored.names.some((n) => cert.names.includes(n));
    if (!same) {
      return { order: true, reason: 'names changed', renewal: false, ...(replaces && shares && (await this.ariUrl()) ? { replaces } : {}) };
    }
    const ari = certId ? await this.ariWindow(cert.id, certId, signal) : undefined;
    if (now >= stored.notAfter.getTime()) return { order: true, reason: 'expired', renewal: true, ...(ari && replaces ? { replaces } : {}) };
    const plan = nextRenewal(stored, {
      ...(ari ? { ari } : {}),
      ...(this.o.renewBefore ? { renewBefore: this.o.renewBefore } : {}),
      random: this.o.random,
      now: this.o.now,
    });
    this.o.state.setCert(cert.id, (old) => ({ ...old, nextRenewal: plan.at, ariChosen: plan.source === 'ari' }));
    if (plan.at.getTime() <= now) return { order: true, reason: 'renewal due', renewal: true, ...(ari && replaces ? { replaces } : {}) };
    const recheck = ari ? Math.min(plan.at.getTime(), this.o.state.cert(cert.id).ariRetryAfter?.getTime() ?? Infinity) : plan.at.getTime();
    this.schedule(cert.id, recheck);
    return { order: false, nextAt: plan.at, ari: plan.source === 'ari' };
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

  /** The ARI window of the stored certificate: the saved one until its Retry-After, else asked anew. */
  private async ariWindow(id: string, certId: string, signal?: AbortSignal) {
    const url = await this.ariUrl();
    if (!url) return undefined;
    const saved = this.o.state.cert(id);
    const now = this.o.now();
    // A window is the certificate's it was asked for: one saved for a previous certificate (or of unknown origin,
    // from an older state file) is never used, and neither is the moment drawn in it.
    const mine = saved.ariCertId === certId;
    if (mine && saved.ariWindow && saved.ariRetryAfter && saved.ariRetryAfter.getTime() > now) {
      return { ...saved.ariWindow, ...(saved.ariChosen && saved.nextRenewal ? { chosen: saved.nextRenewal } : {}) };
    }
    try {
      const info = await fetchRenewalInfo(url, certId, { fetch: this.o.fetch, now: this.o.now, ...(signal ? { signal } : {}) });
      const window = { start: info.start, end: info.end };
      const keep = mine && saved.ariChosen && saved.nextRenewal;
      this.o.state.setCert(id, (old) => ({ ...old, ariWindow: window, ariRetryAfter: info.retryAfter, ariCertId: certId }));
      this.o.log.debug({ cert: id, start: info.start.toISOString(), end: info.end.toISOString() }, 'ARI window');
      return { ...window, ...(keep ? { chosen: saved.nextRenewal! } : {}) };
    } catch (err) {
      this.o.log.warn({ cert: id, err: errorMessage(err) }, 'ARI unavailable for this certificate; using the lifetime rule');
      return undefined;
    }
  }
}

function safeCertId(pem: string): string | undefined {
  try {
    return ariCertId(pem);
  } catch {
    return undefined;
  }
}
