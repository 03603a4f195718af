import { removeTempFiles } from './store/temp-files.js';
import { mkdir } from 'node:fs/promises';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { WhisperError, errorMessage, isWhisperError } from './errors.js';
import { consulFromConfig, issuerFromConfig, storeFromConfig } from './from-config.js';
import { ensureAccount, offeredProfile } from './acme/account-ready.js';
import type { CertStore, StoredCert } from './store/types.js';
import { cleanOrphanChallenges, createChallengeJournal } from './acme/journal.js';
import { createChallengeCleanup } from './acme/cleanup.js';
import type { Issuer } from './acme/types.js';
import { createDnsProvider } from './dns/factory.js';
import { batchDnsProvider } from './dns/batch.js';
import type { DnsProvider } from './dns/provider.js';
import type { ConsulApi } from './consul/api.js';
import { CatalogWatcher, type CatalogChange } from './consul/watcher.js';
import { DatacenterCatalog, serviceNameOf } from './consul/datacenters.js';
import { KvWatcher, runWithKvWatchers } from './consul/kv-watch.js';
import { staticKeyPrefix } from './plan/static.js';
import { createNotifier } from './consul/notify.js';
import { IssuanceQueue } from './queue/queue.js';
import { Reconciler } from './reconcile.js';
import { RenewalManager } from './lifecycle/manager.js';
import { createCaFetch } from './acme/ca-fetch.js';
import { RateBudget } from './limits/budget.js';
import { loadState } from './state/file.js';
import { StateKeeper } from './state/keeper.js';
import { abortableSleep, systemTimers, type Sleep, type Timers } from './time.js';
import { runHa, type Pipeline } from './ha/run.js';
import type { SharedState } from './ha/kv-state.js';
import type { WhisperMetrics } from './http/metrics.js';
import { instrumentIssuer } from './http/instrument.js';
import { serveWhile } from './http/serve.js';
import type { AdminHub } from './admin/hub.js';
import type { Target } from './targets/types.js';
import { checkTargetsAtStart, targetsAtStart } from './targets/factory.js';
import type { PolicyHolder } from './policy/holder.js';
import { loadPolicyAtStart, policyParts } from './policy/run.js';
import { fileTargets } from './policy/targets.js';
import { closeTargets, startDelivery } from './targets/run.js';
import type { Http01Solver } from './http01/solver.js';
import { wantsHttp01, withHttp01 } from './http01/run.js';
import { openHistory } from './history/db.js';
import { acquireFolderLock, type FolderLock } from './ops/lock.js';
import { finishPendingRollover } from './acme/account-pending.js';
import { pendingKeyFileOf } from './store/account-key-path.js';
import { createRecorder } from './history/recorder.js';
import type { HistoryStore } from './history/types.js';
import { pipelineBackend } from './ops/pipeline.js';
import { importedEntries } from './ops/import.js';
import { createAcmeClientFactory } from './acme/transport.js';
import type { BundleItem } from './targets/bundle.js';

/** Parts the daemon can be given instead of building them from the config (tests, embedding). */
export interface DaemonParts {
  readonly consul?: ConsulApi;
  readonly store?: CertStore;
  readonly dns?: DnsProvider;
  readonly issuer?: Issuer;
  readonly timers?: Timers;
  readonly sleep?: Sleep;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Metrics to feed (set by `--listen`); HA calls its `setLeader`. */
  readonly metrics?: WhisperMetrics;
  /** The admin API's hub (set by `--listen`): the pipeline attaches its backend and publishes its events there. */
  readonly admin?: AdminHub;
  /** The folder lock (default: taken at start, waiting while another daemon holds the folder). */
  readonly lock?: FolderLock;
  /** The folder's history (`.whisper-history.sqlite`; default: opened for the daemon's life). */
  readonly history?: HistoryStore;
  /** Under `--ha`: the state shared by the leaders in Consul KV (the state file is its local cache). */
  readonly sharedState?: SharedState;
  /** The delivery targets (default: built from `--haproxy-socket` and `--target`; closed when the daemon ends). */
  readonly targets?: readonly Target[];
  /** HTTP-01 tokens (default: from `--http01-listen`, whose responder runs for the daemon's life, or `--http01-webroot`). */
  readonly http01?: Http01Solver;
  /** `--config`: the file in force and each certificate's policy (default: loaded from `config.configFile`). */
  readonly policy?: PolicyHolder;
  /** The config file's target names → the names of the targets they made (see `policy/targets.ts`). */
  readonly targetNames?: ReadonlyMap<string, readonly string[]>;
}

/** The address a local command reaches the admin API at: loopback when the server listens on every address. */
function apiHost(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The history of a run whose database could not be opened: records nothing. */
const NO_HISTORY: HistoryStore = { record: () => undefined, query: () => [], prune: () => 0, close: () => undefined };

/**
 * The daemon. With `--ha` or `--store consul`, {@link runPipeline} runs inside leader election and KV sharing
 * (src/ha); otherwise it is {@link runPipeline} itself.
 */
export async function runDaemon(config: Config, log: Logger, signal: AbortSignal, parts: DaemonParts = {}): Promise<void> {
  if (!parts.lock) {
    // One daemon per folder; `whisper-ts renew` finds it (and its admin API) through this lock, and never orders beside it.
    await mkdir(config.certDir, { recursive: true, mode: 0o700 });
    const lock = await acquireFolderLock(config.certDir, { kind: 'daemon' }, { wait: true, signal, log: log.child({ component: 'lock' }) });
    try {
      return await runDaemon(config, log, signal, { ...parts, lock });
    } finally {
      await lock.release();
    }
  }
  if (!parts.history) {
    // Every instance records what it did, leader or not, for the daemon's whole life.
    let history: HistoryStore;
    try {
      history = openHistory(config.certDir, { retentionDays: config.historyDays, log: log.child({ component: 'history' }) });
    } catch (err) {
      // The history is for people; certificates never wait for it.
      log.warn({ code: isWhisperError(err) ? err.code : 'HISTORY' }, `no history this run: ${errorMessage(err)}`);
      history = NO_HISTORY;
    }
    try {
      return await runDaemon(config, log, signal, { ...parts, history });
    } finally {
      history.close();
    }
  }
  if (config.configFile && !parts.policy) {
    // Read and checked before anything runs: an invalid file is an invalid option (exit code 2).
    const policy = await loadPolicyAtStart(config);
    if (policy) return runDaemon(config, log, signal, { ...parts, policy });
  }
  if (!parts.targets) {
    // Built once, before anything runs: a target the options cannot describe is an invalid option (exit code 2).
    const cli = targetsAtStart(config.targets, { certDir: config.certDir, log: log.child({ component: 'targets' }) });
    const named = fileTargets(parts.policy?.file, config, cli, log.child({ component: 'targets' }));
    const targets = [...cli, ...named.targets];
    await checkTargetsAtStart(config.targets, log.child({ component: 'targets' }));
    try {
      return await runDaemon(config, log, signal, { ...parts, targets, targetNames: named.names });
    } finally {
      await closeTargets(targets, log.child({ component: 'targets' }));
    }
  }
  // HTTP-01: the responder answers on every instance, leader or not, for the daemon's whole life.
  if (wantsHttp01(config) && !parts.http01) return withHttp01(config, log, parts, consulFromConfig, (p) => runDaemon(config, log, signal, p));
  if (config.listen && !parts.metrics) {
    const served = {
      ...parts,
      consul: parts.consul ?? consulFromConfig(config),
      store: parts.store ?? storeFromConfig(config, log.child({ component: 'store' })),
      folder: config.certDir,
      ...(config.adminToken ? { adminToken: config.adminToken } : {}),
      // `whisper-ts renew` and friends find the admin API through the folder lock (loopback: the API serves it reads).
      onListening: (port: number) => parts.lock?.update({ api: `http://${apiHost(config.listen!.host)}:${port}`, ...(config.adminTokenFile ? { tokenFile: config.adminTokenFile } : {}) }) ?? Promise.resolve(),
    };
    // `/healthz` probes the folder from the start; a follower may never write it (until it leads), so create it now.
    // A failure shows in `/healthz`, and the pipeline's own mkdir reports it.
    await mkdir(config.certDir, { recursive: true, mode: 0o700 }).catch(() => undefined);
    return serveWhile(config.listen, log, served, (p) => runDaemon(config, log, signal, p));
  }
  if (!config.ha && config.store !== 'consul') return runPipeline(config, log, signal, parts);
  const consul = parts.consul ?? consulFromConfig(config);
  const folder = parts.store ?? storeFromConfig(config, log.child({ component: 'store' }));
  const pipeline: Pipeline = (s, shared) => runPipeline(config, log, s, { ...parts, ...shared });
  const clocks = { ...(parts.timers ? { timers: parts.timers } : {}), ...(parts.now ? { now: parts.now } : {}) };
  await runHa(
    { config, log, consul, folder, sleep: parts.sleep ?? abortableSleep, ...clocks, pipeline, targets: parts.targets, ...(parts.random ? { random: parts.random } : {}), ...(parts.metrics ? { metrics: parts.metrics, deliveryMetrics: parts.metrics } : {}), record: createRecorder(parts.history, { ...(parts.admin ? { events: parts.admin.events } : {}), ...(parts.now ? { now: parts.now } : {}) }) },
    signal,
  );
}

/**
 * The pipeline: watch the catalog and the static entries of `--listen-path`, plan, queue, issue, store, notify;
 * renew on each certificate's timer and in a sweep every `--renew-interval` (24 hours). Resolves once `signal`
 * aborts and every part has stopped (in-flight orders are aborted and their DNS records cleaned up).
 */
export async function runPipeline(config: Config, log: Logger, signal: AbortSignal, parts: DaemonParts = {}): Promise<void> {
  const timers = parts.timers ?? systemTimers;
  const sleep = parts.sleep ?? abortableSleep;
  const now = parts.now ?? Date.now;
  const consul = parts.consul ?? consulFromConfig(config);
  const store = parts.store ?? storeFromConfig(config, log.child({ component: 'store' }));
  // One change per zone for the records of concurrent orders (dns/batch.ts), their clean-up in the background.
  const injectedTimers = parts.timers ? { timers: parts.timers } : {};
  const dns = batchDnsProvider(parts.dns ?? createDnsProvider(config, log.child({ component: 'dns' })), { log: log.child({ component: 'dns' }), ...injectedTimers });
  const journal = createChallengeJournal(config.certDir, { log });
  const cleanup = createChallengeCleanup({ dns, journal, log: log.child({ component: 'acme' }), background: true, ...injectedTimers });
  // `--config`: each certificate's policy and its named DNS back ends; `find` asks the reconciler, made further down.
  const ref: { reconciler?: Reconciler; found: readonly StoredCert[] } = { found: [] };
  const policy = parts.policy
    ? policyParts({ policy: parts.policy, config, log, find: (id) => ref.reconciler?.find(id), found: () => ref.found, targetNames: parts.targetNames ?? new Map(), ...injectedTimers })
    : undefined;
  const cleanupFor = policy ? (d: DnsProvider) => policy.backends.cleanupFor(d) ?? cleanup : undefined;
  const bareIssuer = parts.issuer ?? issuerFromConfig(config, store, dns, journal, cleanup, log, sleep, parts.http01, cleanupFor);
  const issuer = parts.metrics ? instrumentIssuer(bareIssuer, parts.metrics, now) : bareIssuer;

  await mkdir(config.certDir, { recursive: true, mode: 0o700 });
  log.info({ folder: config.certDir, consul: config.consul.address, directory: config.directoryUrl, dns: dns.name }, 'whisper-ts starting');
  // Temporary files of a killed run (ours only); the free function, as under HA the store is the KV wrapper.
  await removeTempFiles(config.certDir, { formatsDir: config.formatsDir, log: log.child({ component: 'store' }) });
  // Before any new order: the challenge records a killed run left behind.
  await cleanOrphanChallenges(journal, dns, log.child({ component: 'acme' }), signal);
  await policy?.backends.cleanOrphans(signal);
  // A key rollover interrupted after the CA switched keys is finished first: the old key no longer opens the account.
  const finishRollover = parts.issuer ? undefined : async () => finishPendingRollover({
    directoryUrl: config.directoryUrl,
    store,
    clients: createAcmeClientFactory(config.caBundle ? { caBundle: config.caBundle } : {}),
    folder: config.certDir,
    pendingKeyFile: await pendingKeyFileOf(config),
    log: log.child({ component: 'acme' }),
    signal,
  });
  await ensureAccount(issuer, log, sleep, signal, finishRollover);
  parts.metrics?.attach({ accountReady: () => true });

  const random = parts.random ?? Math.random;
  const profile = await offeredProfile(config, issuer, log);
  // Every start reports the folder's odd files (corrupt, foreign, expired); none is deleted.
  const found = await store.list((file, err) => log.warn({ file, code: isWhisperError(err) ? err.code : undefined }, errorMessage(err)));
  ref.found = found;
  const loadFile = () => loadState(config.certDir, { now, rebuild: () => found.map((c) => ({ names: c.names, notBefore: c.notBefore })) });
  // Under --ha a new leader starts from the state the last one left in Consul KV, not from its own file.
  const loaded = parts.sharedState ? await parts.sharedState.load(loadFile, signal) : await loadFile();
  if (loaded.problem) log.warn({ code: 'STORE_CORRUPT' }, loaded.problem);
  const state = new StateKeeper(config.certDir, loaded.state, log.child({ component: 'state' }), parts.sharedState?.save);
  const budget = new RateBudget({ limits: config.rateLimits, account: config.directoryUrl, events: loaded.state.budget });
  // The targets: what the journal lacks of the folder is delivered now (a kill mid-delivery, a new target).
  const record = createRecorder(parts.history, { ...(parts.admin ? { events: parts.admin.events } : {}), now });
  const delivery = await startDelivery({
    record,
    ...(policy ? { accepts: policy.accepts } : {}),
    targets: parts.targets ?? [],
    certDir: config.certDir,
    state,
    found,
    log: log.child({ component: 'targets' }),
    now,
    random,
    ...injectedTimers,
    ...(parts.metrics ? { metrics: parts.metrics } : {}),
  });

  const notifier = createNotifier({
    api: consul,
    key: config.notifyKey,
    intervalMs: config.notifyIntervalMs,
    timers,
    now,
    log: log.child({ component: 'notify' }),
    onWritten: (files) => record({ kind: 'notified', reason: config.notifyKey, names: files }),
  });
  const queue = new IssuanceQueue({
    concurrency: config.concurrency,
    ...(config.retryBaseMs ? { retry: { baseMs: config.retryBaseMs } } : {}),
    timers,
    now,
    log: log.child({ component: 'queue' }),
    // The dashboard's queue view follows the jobs live.
    ...(parts.admin ? { onEvent: () => parts.admin!.events.publish({ type: 'changed', what: 'queue' }) } : {}),
    // A stopping pipeline (or a leader that lost its lock) starts no new order and aborts those in flight at once.
    run: (cert, ctx) =>
      signal.aborted
        ? Promise.reject(new WhisperError('ABORTED', `not ordering ${cert.id}: stopping`))
        : reconciler.ensure(cert, AbortSignal.any([ctx.signal, signal])),
  });
  const renewal = new RenewalManager({
    state,
    directoryUrl: config.directoryUrl,
    renewalInfoUrl: async () => {
      const dir = (await issuer.directory?.()) ?? {};
      return typeof dir.renewalInfo === 'string' ? dir.renewalInfo : undefined;
    },
    fetch: createCaFetch(config.caBundle),
    enqueue: (id, reason) => {
      const cert = reconciler.find(id);
      if (cert) queue.enqueue(cert, reason);
    },
    ...(config.renewBefore ? { renewBefore: config.renewBefore } : {}),
    horizonMs: config.renewIntervalMs,
    ...(policy ? { renewBeforeOf: policy.renewBeforeOf } : {}),
    timers,
    now,
    random,
    log: log.child({ component: 'renewal' }),
  });
  // Files of unknown origin are placed by the issuers of those whose CA the state records.
  renewal.learnIssuers(found);
  const reconciler: Reconciler = new Reconciler({
    store,
    issuer,
    renewal,
    budget,
    state,
    log,
    now,
    allowDomains: config.allowDomains,
    allowWildcard: config.allowWildcard,
    domains: config.domains,
    listenPaths: config.listenPaths,
    ...(config.consul.datacenters ? { serviceName: serviceNameOf } : {}),
    ...(profile ? { profile } : {}),
    ...(config.profile ? { requestedProfile: config.profile } : {}),
    ...(config.staticDomains ? { staticDomains: config.staticDomains } : {}),
    ...(policy ? policy.reconciler : {}),
    record,
    enqueue: (cert, reason) => queue.enqueue(cert, reason),
    forget: (id) => queue.remove(id),
    notify: (files) => notifier.changed(files),
    ...(delivery ? { delivered: (item) => delivery.delivered(item), removed: (item) => delivery.removed(item) } : {}),
  });
  const watch = {
    api: consul,
    wait: config.consul.wait,
    sleep,
    now,
    log: log.child({ component: 'watcher' }),
    onChange: (change: CatalogChange) => reconciler.update(change.services, change.reset ? 'all' : new Set([...change.changed, ...change.removed])),
  };
  // `--datacenter`: one watcher per datacenter, merged (`web@dc2`); without it, the agent's own catalog as always.
  const datacenters = config.consul.datacenters;
  ref.reconciler = reconciler;
  // The file's `domains:` now, and again at each reload (with the policies' extra names).
  if (parts.policy?.file) reconciler.policyChanged(parts.policy.file.domains);
  // Certificates adopted by `whisper-ts import` are wanted like the file's `domains:`.
  reconciler.importedChanged(importedEntries(state));
  parts.admin?.attach(pipelineBackend({
    config, store, state, budget, queue, reconciler, record, now, log: log.child({ component: 'admin' }), signal,
    clients: createAcmeClientFactory(config.caBundle ? { caBundle: config.caBundle } : {}),
    notify: (files) => notifier.changed(files),
    ...(parts.history ? { history: parts.history } : {}),
    ...(parts.admin ? { events: parts.admin.events } : {}),
    ...(delivery ? { delivered: (item: BundleItem) => delivery.delivered(item) } : {}),
  }));
  const stopPolicyWatch = policy?.watch((file) => reconciler.policyChanged(file.domains), signal);
  const watcher = datacenters ? new DatacenterCatalog({ ...watch, datacenters, random }) : new CatalogWatcher(watch);
  // `--listen-path`: static entries, one watcher per prefix.
  const kvWatchers = config.listenPaths.map(
    (prefix) =>
      new KvWatcher({
        api: consul,
        prefix: staticKeyPrefix(prefix),
        wait: config.consul.wait,
        sleep,
        now,
        random,
        log: log.child({ component: 'static', listenPath: prefix }),
        onChange: (entries) => reconciler.updateStatic(prefix, entries),
      }),
  );

  parts.metrics?.attach({ queueDepth: () => queue.size, budget: (t) => budget.snapshot(t), watcherLastSuccess: () => watcher.lastSuccess });

  let sweepTimer: unknown;
  const scheduleSweep = () => {
    sweepTimer = timers.setTimeout(() => {
      log.info({ certificates: reconciler.wanted.length }, 'renewal sweep');
      void reconciler.sweep();
      delivery?.sweep();
      parts.history?.prune(now());
      scheduleSweep();
    }, config.renewIntervalMs);
  };
  scheduleSweep();

  try {
    await runWithKvWatchers(watcher, kvWatchers, signal, log);
  } finally {
    parts.admin?.attach(undefined);
    timers.clearTimeout(sweepTimer);
    renewal.stop();
    await queue.stop();
    // The records of the orders just ended (and of earlier ones still being removed) go out at once, within a bounded time.
    // Deliveries under way get a bounded time too; what they leave is journaled and resumed at the next start.
    stopPolicyWatch?.();
    await Promise.all([cleanup.flush(), dns.close?.(), delivery?.stop(), policy?.backends.close()]);
    await state.flush();
    // The last bump (files changed since the one before) goes out before the Consul client closes its connections.
    await notifier.close();
    consul.close?.();
    log.info('whisper-ts stopped');
  }
}
