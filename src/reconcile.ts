import type { Logger } from './log.js';
import { WhisperError, isWhisperError, errorMessage } from './errors.js';
import { diffPlans, type Plan, type PlanProblem } from './plan/planner.js';
import { IncrementalPlanner } from './plan/incremental.js';
import { problemKey } from './plan/service.js';
import { fromStatic } from './plan/static.js';
import type { WantedCert } from './plan/types.js';
import { X509Certificate } from 'node:crypto';
import type { CertBundle, CertStore, StoredCert } from './store/types.js';
import type { IssueOptions, Issuer } from './acme/types.js';
import { hasProblemType, problemOf } from './acme/problems.js';
import { renewalDue, sameNames } from './lifecycle/rule.js';
import type { RenewalManager } from './lifecycle/manager.js';
import { Retirer } from './lifecycle/retire.js';
import type { RateBudget } from './limits/budget.js';
import { classifyOrder } from './limits/classify.js';
import type { BudgetOrder } from './limits/keys.js';
import type { StateKeeper } from './state/keeper.js';
import type { CertPolicy, OnRemoval } from './policy/types.js';
import { orderOptions, withPolicyNames } from './policy/apply.js';
import type { DnsProvider } from './dns/provider.js';
import { bundleItem, type BundleItem } from './targets/bundle.js';
import type { RecordEvent } from './history/types.js';
import { historyProblem } from './history/recorder.js';

/** What the reconciler needs: the parts at the edges. */
export interface ReconcilerDeps {
  readonly store: CertStore;
  readonly issuer: Issuer;
  readonly renewal: RenewalManager;
  readonly budget: RateBudget;
  readonly state: StateKeeper;
  /** Enqueue work; the queue de-duplicates by id. */
  readonly enqueue: (cert: WantedCert, reason: string) => void;
  /** A certificate is no longer wanted. */
  readonly forget: (id: string) => void;
  /** Files changed: bump the notify key (debounced by the notifier). */
  readonly notify: (files: readonly string[]) => void;
  /**
   * A certificate was written: the delivery targets get it (`targets/manager.ts`; returns at once, never throws).
   * @default none
   */
  readonly delivered?: (item: BundleItem) => void;
  /** A superseded certificate's file was removed: the delivery targets take it away too. @default none */
  readonly removed?: (item: { readonly id: string; readonly path: string }) => void;
  /** Records what happens to each certificate (orders, issues, failures, deferrals) in the history. @default none */
  readonly record?: RecordEvent;
  readonly log: Logger;
  readonly allowDomains: readonly string[];
  /** Whether tags may ask for wildcard names (`vhost=*`). @default false */
  readonly allowWildcard?: boolean;
  /** `--domain`: only these zones are handled, compared exactly. @default [] (every zone) */
  readonly domains?: readonly string[];
  /** `--listen-path` prefixes (normalized) whose static entries {@link Reconciler.updateStatic} receives. @default [] */
  readonly listenPaths?: readonly string[];
  /** The service name in a catalog key (`--datacenter`'s `web@dc2`; see `IncrementalPlanOptions`). @default the key */
  readonly serviceName?: (key: string) => string;
  /** ACME profile for new orders, when the CA offers it. */
  readonly profile?: string;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * The `on_removal` of a certificate file nobody wants any more (from its policy): `delete` removes the files
   * whisper-ts wrote that long after the plan dropped them, at the sweep. @default keep (whisper's behaviour)
   */
  readonly onRemovalOf?: (file: StoredCert) => OnRemoval;
  /**
   * Each certificate's policy (`--config`): its challenge, DNS back end, key type and reuse, profile, extra names.
   * @default none: the issuer's own settings for every certificate
   */
  readonly policyOf?: (cert: WantedCert) => CertPolicy;
  /** The config file's named DNS back ends, each batched (see `policy/apply.ts`). */
  readonly dnsBackend?: (name: string) => DnsProvider;
  /** `--profile` as given, before the CA was asked whether it offers it (`profile` is what it offers). */
  readonly requestedProfile?: string;
  /** `--static-domains` / `DOMAINS`: certificates no service asks for (see `IncrementalPlanner.updateDomains`). */
  readonly staticDomains?: readonly (readonly string[])[];
}

/** Why a certificate needs an order by the lifetime rule alone, or `undefined` (the dry run's view: no ARI). */
export function orderReason(stored: StoredCert | undefined, cert: WantedCert, now: number): string | undefined {
  if (!stored) return 'missing';
  if (!sameNames(stored.names, cert.names)) return 'names changed';
  if (now >= stored.notAfter.getTime()) return 'expired';
  if (renewalDue(stored, now)) return 'renewal due';
  return undefined;
}

/**
 * Turns catalog snapshots and static entries into queued jobs, and runs one job: decide (missing, names changed,
 * ARI window or lifetime rule), consult the rate-limit budget, order, store, notify. The daemon and the tests share it.
 */
export class Reconciler {
  /** What has been acted on: nothing until the catalog was read (see {@link update}). */
  private plan: Plan = { certs: [], problems: [] };
  /** The planner's plan {@link plan} was made from (before the policies' extra names). */
  private raw: Plan | undefined;
  private byId = new Map<string, WantedCert>();
  private readonly planner: IncrementalPlanner;
  /** Certificates issued but not yet stored (a full or read-only disk): written on the retry, not ordered again. */
  private readonly unsaved = new Map<string, { names: readonly string[]; bundle: CertBundle; notAfter: number }>();
  private readonly now: () => number;
  /** Removes superseded files (see `lifecycle/retire.ts`); made on first use. */
  private retirerOnce: Retirer | undefined;
  /** Certificates whose file was checked for superseded files since start (see {@link ensureInner}). */
  private readonly judged = new Set<string>();
  /** Whether the catalog was read once: static entries read before it wait for it, so the first plan has both. */
  private catalogSeen = false;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? Date.now;
    this.planner = new IncrementalPlanner({
      allowDomains: deps.allowDomains,
      allowWildcard: deps.allowWildcard ?? false,
      domains: deps.domains ?? [],
      listenPaths: deps.listenPaths ?? [],
      ...(deps.staticDomains ? { staticDomains: deps.staticDomains } : {}),
      ...(deps.serviceName ? { serviceName: deps.serviceName } : {}),
    });
    // The environment's static certificates are in the planner's plan already, not in ours: the first catalog read
    // finds them added and queues them with the catalog's.
  }

  /** The certificates currently wanted. */
  get wanted(): readonly WantedCert[] {
    return this.plan.certs;
  }

  /** The wanted certificate with this id. */
  find(id: string): WantedCert | undefined {
    return this.byId.get(id);
  }

  /**
   * Re-plans after a catalog change: `services` is the whole catalog (name → tags), `changed` the services new,
   * changed or gone since the last call (`'all'`: start over). Only those services are planned again (see
   * {@link IncrementalPlanner}). Problems are logged for the services in `changed` (every one on `'all'`), so a bad
   * tag is reported when it appears, not on every catalog change.
   */
  update(services: ReadonlyMap<string, readonly string[]>, changed: ReadonlySet<string> | 'all'): void {
    this.catalogSeen = true;
    const next = this.planner.update(services, changed);
    this.apply(next, (p) => changed === 'all' || p.service.split(', ').some((s) => changed.has(s)));
  }

  /**
   * Re-plans after the static entries under listen path `prefix` changed: `entries` is every KV key under it now
   * (full key → value; see `planStatic`). Until the catalog has been read once ({@link update}), the entries are
   * planned but nothing is queued: the first plan then holds the catalog's certificates and the static ones
   * together, so a certificate both ask for is ordered once, with all its names. A problem of a static entry is
   * logged when it appears, not on every change.
   */
  updateStatic(prefix: string, entries: ReadonlyMap<string, string>): void {
    const next = this.planner.updateStatic(prefix, entries);
    if (this.catalogSeen) this.apply(next, () => false);
  }

  /**
   * Acts on a new plan: logs the problems `touched` selects and those of static entries the plan acted on so far
   * did not have, then queues what was added or changed and forgets what went away.
   */
  private apply(planned: Plan, touched: (p: PlanProblem) => boolean, force = false): void {
    let next = planned;
    if (next === this.raw && !force) return;
    this.raw = next;
    if (this.deps.policyOf) next = withPolicyNames(next, this.deps.policyOf);
    const before = new Set(this.plan.problems.map(problemKey));
    for (const p of next.problems) {
      const fresh = fromStatic(p.service) && !before.has(problemKey(p));
      if (touched(p) || fresh) this.deps.log.warn({ service: p.service, tag: p.tag, code: p.code }, p.message);
    }
    const diff = diffPlans(this.plan, next);
    const first = this.plan.certs.length === 0;
    this.plan = next;
    this.byId = new Map(next.certs.map((c) => [c.id, c]));
    const now = this.now();
    for (const cert of diff.removed) {
      this.deps.state.setCert(cert.id, (old) => (old.unwantedSince ? old : { ...old, unwantedSince: new Date(now) }));
      this.deps.log.info({ cert: cert.id }, 'certificate no longer wanted; its file is kept');
      this.deps.renewal.forget(cert.id);
      this.deps.forget(cert.id);
      this.unsaved.delete(cert.id);
    }
    for (const cert of [...diff.added, ...diff.changed]) {
      if (this.deps.state.cert(cert.id).unwantedSince) this.deps.state.setCert(cert.id, ({ unwantedSince: _, ...rest }) => rest);
    }
    for (const cert of diff.added) this.deps.enqueue(cert, first ? 'start' : 'added');
    for (const cert of diff.changed) this.deps.enqueue(cert, 'names changed');
  }

  /**
   * Queues every wanted certificate again (the periodic sweep: each job checks the folder first), and drops the
   * state of certificates neither wanted nor in the store. Nothing is pruned before the first plan, nor when the
   * store cannot be listed.
   */
  async sweep(): Promise<void> {
    for (const cert of this.plan.certs) this.deps.enqueue(cert, 'sweep');
    if (this.plan.certs.length === 0) return;
    let files: StoredCert[];
    try {
      files = await this.deps.store.list();
      this.deps.state.prune([...this.byId.keys(), ...files.map((c) => c.id)]);
    } catch (err) {
      this.deps.log.debug({ err: errorMessage(err) }, 'state not pruned: the store cannot be listed');
      return;
    }
    // Superseded files whose removal failed, or waited for another certificate's file, go now.
    await this.retirer.atSweep(files);
    if (this.deps.onRemovalOf) {
      // A file found unwanted at start (its services gone while whisper-ts was stopped) counts from now.
      const now = this.now();
      for (const f of files) {
        if (this.byId.has(f.id) || this.deps.state.cert(f.id).unwantedSince || this.deps.onRemovalOf(f).kind === 'keep') continue;
        this.deps.state.setCert(f.id, (old) => ({ ...old, unwantedSince: new Date(now) }));
      }
      const nextAt = await this.retirer.expireUnwanted(files, this.deps.onRemovalOf, now);
      if (nextAt !== undefined) this.deps.log.debug({ at: new Date(nextAt).toISOString() }, 'next unwanted certificate due for removal (checked at each sweep)');
    }
  }

  private get retirer(): Retirer {
    this.retirerOnce ??= new Retirer({
      store: this.deps.store,
      state: this.deps.state,
      log: this.deps.log,
      notify: this.deps.notify,
      ...(this.deps.removed ? { removed: this.deps.removed } : {}),
      wanted: () => this.plan.certs,
      requeue: (id) => {
        const cert = this.byId.get(id);
        if (cert) this.deps.enqueue(cert, 'removed while wanted again');
      },
    });
    return this.retirerOnce;
  }

  /** One job: make sure the folder holds a valid certificate for `cert`, renewed on time. */
  async ensure(cert: WantedCert, signal: AbortSignal): Promise<void> {
    const log = this.deps.log.child({ cert: cert.id });
    try {
      await this.ensureInner(cert, signal, log);
      this.deps.state.setCert(cert.id, (old) => ({ ...old, lastError: undefined, deferredUntil: undefined }));
    } catch (err) {
      if (!isWhisperError(err, 'ABORTED')) {
        const at = new Date(this.now());
        const code = isWhisperError(err) ? err.code : 'INTERNAL';
        const retryAfter = isWhisperError(err) ? err.retryAfter : undefined;
        this.deps.state.setCert(cert.id, (old) => ({ ...old, lastError: { at, code, message: errorMessage(err) }, deferredUntil: retryAfter }));
        // A deferral is recorded where it is decided (with its bucket); anything else is a failure.
        if (code !== 'RATE_LIMIT_DEFERRED') {
          const problem = historyProblem(err);
          this.deps.record?.({ kind: 'failed', cert: cert.id, names: cert.names, code, message: errorMessage(err), ...(problem ? { problem } : {}), ...(retryAfter ? { until: retryAfter } : {}) });
        }
      }
      throw err;
    }
  }

  private async ensureInner(cert: WantedCert, signal: AbortSignal, log: Logger): Promise<void> {
    let stored: StoredCert | undefined;
    try {
      stored = await this.deps.store.read(cert.id);
    } catch (err) {
      if (!isWhisperError(err, 'STORE_CORRUPT')) throw err;
      log.warn({ code: err.code }, `${errorMessage(err)}; it will be replaced`);
    }
    // One decision (lifecycle/decide.ts) from the file, the state, the budget and the clock; its effects follow here.
    const now = this.now();
    const decision = await this.deps.renewal.decide(cert, stored, signal, (order) => this.deps.budget.check(order, now));
    if (decision.action === 'wait') {
      log.debug({ notAfter: stored?.notAfter.toISOString(), nextRenewal: decision.nextAt.toISOString(), ari: decision.ari }, 'certificate present and valid; nothing to order');
      // Once per run: a run stopped between a write and the removal it allowed finishes it now, not at the sweep.
      if (stored && !this.judged.has(cert.id)) {
        this.judged.add(cert.id);
        await this.retirer.check(cert, stored);
      }
      return;
    }
    // One classification of the order for the budget, used by the check here and by the record after the order.
    if (decision.action === 'defer') {
      this.deps.record?.({ kind: 'deferred', cert: cert.id, names: cert.names, reason: decision.reason, until: decision.until, bucket: decision.bucket });
      throw deferred(cert, decision.until, decision.bucket, decision.key);
    }
    const { order } = decision;
    const started = this.now();
    const kept = this.unsaved.get(cert.id);
    let bundle: CertBundle;
    if (kept && sameNames(kept.names, cert.names) && kept.notAfter > this.now()) {
      log.info({ names: cert.names }, 'writing the certificate issued earlier that could not be stored');
      bundle = kept.bundle;
    } else {
      // Nothing is ordered that could not be stored: an order costs the CA's limits, a failed write loses it.
      await this.deps.store.checkWritable?.();
      log.info({ names: cert.names, reason: decision.reason, replaces: decision.replaces }, 'ordering certificate');
      this.deps.record?.({ kind: 'order', cert: cert.id, names: cert.names, reason: decision.reason, ...(requestedBy(this.deps.state.cert(cert.id)) ?? {}) });
      bundle = await this.order(cert, order, decision.replaces, signal, log);
      const notAfter = expiry(bundle.cert);
      if (notAfter !== undefined) this.unsaved.set(cert.id, { names: cert.names, bundle, notAfter });
    }
    const written = await this.deps.store.write(cert.id, bundle);
    // Recorded at once: only a file whose serial is recorded here is ever removed as superseded.
    this.deps.state.setCert(cert.id, (old) => ({ ...old, written: written.serial }));
    this.unsaved.delete(cert.id);
    this.deps.renewal.renewed(cert.id);
    log.info(
      { names: written.names, notAfter: written.notAfter.toISOString(), serial: written.serial, durationMs: this.now() - started },
      'certificate issued',
    );
    this.deps.record?.({ kind: 'issued', cert: cert.id, names: written.names, reason: decision.reason, serial: written.serial, durationMs: this.now() - started });
    this.deps.notify([`${cert.id}.pem`]);
    // The targets (HAProxy's runtime API, AWS, SFTP) get it in the background: none holds this job up.
    this.deps.delivered?.(bundleItem(written, bundle));
    // The new file is in place: a file it supersedes (a zone grown to two vhosts, or shrunk to one) goes now.
    this.judged.add(cert.id);
    await this.retirer.check(cert, written);
    // Decide the next renewal of the new certificate now, so `status` shows it and its timer runs.
    await this.deps.renewal.decide(cert, written, signal).catch(() => undefined);
  }

  /** The order's options from the certificate's policy (none without `--config`): challenge, back end, key, profile. */
  private async policyOptions(cert: WantedCert): Promise<Omit<IssueOptions, 'signal' | 'replaces'>> {
    const offered = this.deps.profile ? { profile: this.deps.profile } : {};
    if (!this.deps.policyOf) return offered;
    const policy = this.deps.policyOf(cert);
    const key = policy.reuseKey ? await this.deps.store.readKey?.(cert.id) : undefined;
    const { profile, ...rest } = orderOptions({ policy, ...(this.deps.dnsBackend ? { dnsBackend: this.deps.dnsBackend } : {}), ...(key ? { key } : {}) });
    // The command line's profile goes only where the CA offers it; a rule's is the operator's explicit choice.
    const chosen = profile === undefined || profile === this.deps.requestedProfile ? offered : { profile };
    return { ...rest, ...chosen };
  }

  /**
   * Re-plans after the config file changed: the policies' extra names may differ, and static `domains:` are
   * replaced (`entries`); what changed is queued.
   */
  policyChanged(domains: readonly (readonly string[])[]): void {
    const next = this.planner.updateDomains('file', domains);
    // Applied even when the planner's plan is the same: the policies' extra names may have changed.
    if (this.catalogSeen) this.apply(next, () => false, true);
  }

  /**
   * The certificates adopted by `whisper-ts import` (names per certificate, from the state): wanted like a `domains:`
   * entry, so they are renewed on schedule.
   */
  importedChanged(entries: readonly (readonly string[])[]): void {
    const next = this.planner.updateDomains('import', entries);
    if (this.catalogSeen) this.apply(next, () => false);
  }

  /** Throws `RATE_LIMIT_DEFERRED` when the budget holds `order` back now. */
  private checkBudget(cert: WantedCert, order: BudgetOrder): void {
    const verdict = this.deps.budget.check(order, this.now());
    if (!verdict.ok) {
      this.deps.record?.({ kind: 'deferred', cert: cert.id, names: cert.names, reason: 'retry without replaces', until: verdict.until, bucket: verdict.bucket });
      throw deferred(cert, verdict.until, verdict.bucket, verdict.key);
    }
  }

  /**
   * Places the order and records it in the budget as `order` says. A `replaces` the CA refuses (another account's
   * certificate, one already replaced, one of another CA) is remembered for that certificate and the order is
   * placed again at once without it, budget permitting: renewal never waits on a `replaces` that cannot succeed.
   */
  private async order(cert: WantedCert, order: BudgetOrder, replaces: string | undefined, signal: AbortSignal, log: Logger): Promise<CertBundle> {
    const opts = { signal, ...(await this.policyOptions(cert)) };
    try {
      try {
        const bundle = await this.deps.issuer.issue(cert, { ...opts, ...(replaces ? { replaces } : {}) });
        this.deps.budget.recordOrder(order, this.now());
        return bundle;
      } catch (err) {
        if (!replaces || !refusesReplaces(err, replaces)) throw this.charge(order, err);
        log.warn({ replaces, err: errorMessage(err) }, 'the CA refused `replaces`; ordering again without it');
        this.deps.state.setCert(cert.id, (old) => ({ ...old, replacesRefused: replaces }));
      }
      const plain = classifyOrder(order.names, false, order.renewal === true);
      this.checkBudget(cert, plain);
      try {
        const bundle = await this.deps.issuer.issue(cert, opts);
        this.deps.budget.recordOrder(plain, this.now());
        return bundle;
      } catch (err) {
        throw this.charge(plain, err);
      }
    } finally {
      this.deps.state.setBudget(this.deps.budget.events(this.now()));
    }
  }

  /** Records what a failed order costs at the CA: a 429's named limit, or the one identifier whose authorization failed. */
  private charge(order: BudgetOrder, err: unknown): unknown {
    if (isWhisperError(err, 'ACME_RATE_LIMITED')) {
      this.deps.budget.recordRateLimited(order, err.retryAfter ?? new Date(this.now() + 3_600_000), this.now(), problemOf(err)?.detail);
    } else if (isWhisperError(err) && err.identifier !== undefined) {
      this.deps.budget.recordAuthzFailure(err.identifier, this.now());
    }
    return err;
  }
}

/** Who asked for a requested renewal, for the history. */
function requestedBy(state: { readonly renewRequested?: { readonly by: string } }): { by: string } | undefined {
  return state.renewRequested ? { by: state.renewRequested.by } : undefined;
}

/** The error of an order the rate-limit budget holds back until `until`. */
function deferred(cert: WantedCert, until: Date, bucket: string, key: string): WhisperError {
  return new WhisperError('RATE_LIMIT_DEFERRED', `order for ${cert.id} deferred until ${until.toISOString()}: the ${bucket} budget (${key}) is spent`, {
    retryable: true,
    retryAfter: until,
  });
}

/** Problem types with which a CA refuses a `replaces` (RFC 9773 §5; Let's Encrypt answers each of them). */
const REFUSED_REPLACES = ['alreadyReplaced', 'unauthorized', 'malformed', 'conflict'];

/**
 * Whether ordering again without `replaces` may succeed: the problem types a CA refuses a `replaces` with, or any
 * problem answering the new-order that carried it (marked by the issuer), never a rate limit.
 */
function refusesReplaces(err: unknown, replaces: string): boolean {
  if (isWhisperError(err, 'ACME_RATE_LIMITED') || hasProblemType(err, 'rateLimited')) return false;
  return REFUSED_REPLACES.some((type) => hasProblemType(err, type)) || (isWhisperError(err) && err.refusedReplaces === replaces);
}

/** The certificate's notAfter (ms), or `undefined` if it does not parse (the store will refuse it anyway). */
function expiry(pem: string): number | undefined {
  try {
    return new Date(new X509Certificate(pem).validTo).getTime();
  } catch {
    return undefined;
  }
}
