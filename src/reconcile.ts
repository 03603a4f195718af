import type { Logger } from './log.js';
import { isWhisperError, errorMessage } from './errors.js';
import { planCertificates, diffPlans, type Plan } from './plan/planner.js';
import type { ServiceTags, WantedCert } from './plan/types.js';
import type { CertStore, StoredCert } from './store/types.js';
import type { Issuer } from './acme/types.js';
import { renewalDue, sameNames } from './renewal/rule.js';

/** What the reconciler needs: the parts at the edges. */
export interface ReconcilerDeps {
  readonly store: CertStore;
  readonly issuer: Issuer;
  /** Enqueue work; the queue de-duplicates by id. */
  readonly enqueue: (cert: WantedCert, reason: string) => void;
  /** A certificate is no longer wanted. */
  readonly forget: (id: string) => void;
  /** Files changed: bump the notify key (debounced by the notifier). */
  readonly notify: (files: readonly string[]) => void;
  readonly log: Logger;
  readonly allowDomains: readonly string[];
  /** @default Date.now */
  readonly now?: () => number;
}

/** Why a certificate needs an order, or `undefined` when the stored one is fine. */
export function orderReason(stored: StoredCert | undefined, cert: WantedCert, now: number): string | undefined {
  if (!stored) return 'missing';
  if (!sameNames(stored.names, cert.names)) return 'names changed';
  if (now >= stored.notAfter.getTime()) return 'expired';
  if (renewalDue(stored, now)) return 'renewal due';
  return undefined;
}

/**
 * Turns catalog snapshots into queued jobs, and runs one job: order the certificate if the folder lacks a valid one
 * for the same names, then store it and notify. The daemon and the tests share it.
 */
export class Reconciler {
  private plan: Plan = { certs: [], problems: [] };
  private readonly now: () => number;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The certificates currently wanted. */
  get wanted(): readonly WantedCert[] {
    return this.plan.certs;
  }

  /**
   * Re-plans from the full catalog. Problems are logged for the services in `changed` (every service on `all`),
   * so a bad tag is reported when it appears, not on every catalog change.
   */
  update(services: readonly ServiceTags[], changed: ReadonlySet<string> | 'all'): void {
    const next = planCertificates(services, { allowDomains: this.deps.allowDomains });
    for (const p of next.problems) {
      const touched = changed === 'all' || p.service.split(', ').some((s) => changed.has(s));
      if (touched) this.deps.log.warn({ service: p.service, tag: p.tag, code: p.code }, p.message);
    }
    const diff = diffPlans(this.plan, next);
    const first = this.plan.certs.length === 0;
    this.plan = next;
    for (const cert of diff.removed) {
      this.deps.log.info({ cert: cert.id }, 'certificate no longer wanted; its file is kept');
      this.deps.forget(cert.id);
    }
    for (const cert of diff.added) this.deps.enqueue(cert, first ? 'start' : 'added');
    for (const cert of diff.changed) this.deps.enqueue(cert, 'names changed');
  }

  /** Queues every wanted certificate again (the periodic sweep: each job checks the folder first). */
  sweep(): void {
    for (const cert of this.plan.certs) this.deps.enqueue(cert, 'sweep');
  }

  /** One job: make sure the folder holds a valid certificate for `cert`. */
  async ensure(cert: WantedCert, signal: AbortSignal): Promise<void> {
    const log = this.deps.log.child({ cert: cert.id });
    let stored: StoredCert | undefined;
    try {
      stored = await this.deps.store.read(cert.id);
    } catch (err) {
      if (!isWhisperError(err, 'STORE_CORRUPT')) throw err;
      log.warn({ code: err.code }, `${errorMessage(err)}; it will be replaced`);
    }
    const reason = orderReason(stored, cert, this.now());
    if (!reason) {
      log.debug({ notAfter: stored?.notAfter.toISOString() }, 'certificate present and valid; nothing to order');
      return;
    }
    const started = this.now();
    log.info({ names: cert.names, reason }, 'ordering certificate');
    const bundle = await this.deps.issuer.issue(cert, { signal });
    const written = await this.deps.store.write(cert.id, bundle);
    log.info(
      { names: written.names, notAfter: written.notAfter.toISOString(), serial: written.serial, durationMs: this.now() - started },
      'certificate issued',
    );
    this.deps.notify([`${cert.id}.pem`]);
  }
}
