import { mkdir } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { consulFromConfig, issuerFromConfig, storeFromConfig } from '../from-config.js';
import { createDnsProvider } from '../dns/factory.js';
import { batchDnsProvider } from '../dns/batch.js';
import { createChallengeJournal } from '../acme/journal.js';
import { createChallengeCleanup } from '../acme/cleanup.js';
import { createCaFetch } from '../acme/ca-fetch.js';
import { createAcmeClientFactory } from '../acme/transport.js';
import { createNotifier } from '../consul/notify.js';
import { RateBudget } from '../limits/budget.js';
import { RenewalManager } from '../lifecycle/manager.js';
import { loadState } from '../state/file.js';
import { StateKeeper } from '../state/keeper.js';
import { Reconciler } from '../reconcile.js';
import { abortableSleep, systemTimers } from '../time.js';
import type { WantedCert } from '../plan/types.js';
import type { StoredCert } from '../store/types.js';
import { openHistory } from '../history/db.js';
import { createRecorder } from '../history/recorder.js';
import { revokeCertificate } from '../acme/revoke.js';
import { showAccount } from '../acme/account-ops.js';
import { createDaemonBackend } from './daemon-backend.js';
import { importedEntries } from './import.js';
import type { OpsBackend } from './types.js';

/** The certificate `whisper-ts renew` acts on without a daemon: the folder's file, with the names it holds. */
function fromFile(file: StoredCert): WantedCert {
  const zone = file.names[0]!.split('.').slice(1).join('.') || file.names[0]!;
  return { id: file.id, kind: file.names.length === 1 ? 'single' : 'multi', zone, names: file.names, services: [] };
}

/**
 * The operator's actions without a running daemon (`whisper-ts renew`, `revoke`, `import` while it is stopped; the
 * caller holds the folder lock): the daemon's own parts (store, state, budget, issuer, DNS) built from the same
 * options, acting at once. A renewal orders and writes the certificate before it resolves; the notify key is bumped
 * at {@link close}. Delivery targets are left to the daemon: its next start delivers what their journal lacks.
 */
export async function openDirectOps(config: Config, log: Logger): Promise<OpsBackend & { close(): Promise<void> }> {
  await mkdir(config.certDir, { recursive: true, mode: 0o700 });
  const now = Date.now;
  const consul = consulFromConfig(config);
  const store = storeFromConfig(config, log.child({ component: 'store' }));
  const dns = batchDnsProvider(createDnsProvider(config, log.child({ component: 'dns' })), { log: log.child({ component: 'dns' }) });
  const journal = createChallengeJournal(config.certDir, { log });
  const cleanup = createChallengeCleanup({ dns, journal, log: log.child({ component: 'acme' }) });
  const issuer = issuerFromConfig(config, store, dns, journal, cleanup, log, abortableSleep);
  const found = await store.list((file, err) => log.warn({ file }, errorMessage(err)));
  const loaded = await loadState(config.certDir, { now, rebuild: () => found.map((c) => ({ names: c.names, notBefore: c.notBefore })) });
  const state = new StateKeeper(config.certDir, loaded.state, log.child({ component: 'state' }));
  const budget = new RateBudget({ limits: config.rateLimits, account: config.directoryUrl, events: loaded.state.budget });
  const history = openHistory(config.certDir, { retentionDays: config.historyDays, log: log.child({ component: 'history' }) });
  const record = createRecorder(history, { now });
  const notifier = createNotifier({ api: consul, key: config.notifyKey, intervalMs: 0, log: log.child({ component: 'notify' }) });
  const renewal = new RenewalManager({
    state,
    directoryUrl: config.directoryUrl,
    renewalInfoUrl: async () => {
      const dir = (await issuer.directory?.()) ?? {};
      return typeof dir.renewalInfo === 'string' ? dir.renewalInfo : undefined;
    },
    fetch: createCaFetch(config.caBundle),
    enqueue: () => undefined,
    ...(config.renewBefore ? { renewBefore: config.renewBefore } : {}),
    // No timers: this process ends after the action.
    horizonMs: 0,
    timers: systemTimers,
    now,
    random: Math.random,
    log: log.child({ component: 'renewal' }),
  });
  renewal.learnIssuers(found);
  const reconciler = new Reconciler({
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
    record,
    enqueue: () => undefined,
    forget: () => undefined,
    notify: (files) => notifier.changed(files),
  });
  const byId = new Map(found.map((f) => [f.id, fromFile(f)]));
  const clients = createAcmeClientFactory(config.caBundle ? { caBundle: config.caBundle } : {});
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const backend = createDaemonBackend({
    store,
    state,
    budget,
    wanted: () => [...byId.values()],
    queue: () => [],
    history,
    now,
    account: () => showAccount({ directoryUrl: config.directoryUrl, store, clients, folder: config.certDir, log }),
    actions: {
      state,
      budget,
      store,
      now,
      record,
      find: (id) => byId.get(id),
      run: async (cert) => {
        await issuer.ensureAccount(controller.signal);
        await reconciler.ensure(cert, controller.signal);
      },
      revoke: (certPem, reason) => revokeCertificate({ directoryUrl: config.directoryUrl, store, clients, certPem, reason, signal: controller.signal, log }),
    },
    imports: {
      store,
      state,
      record,
      now,
      allowDomains: config.allowDomains,
      allowWildcard: config.allowWildcard,
      domains: config.domains,
      written: (stored) => {
        byId.set(stored.id, fromFile(stored));
        notifier.changed([`${stored.id}.pem`]);
      },
    },
  });
  return {
    ...backend,
    async close() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      renewal.stop();
      await Promise.all([cleanup.flush(), dns.close?.()]);
      await state.flush();
      await notifier.close();
      consul.close?.();
      history.close();
      log.debug({ imported: importedEntries(state).length }, 'direct action done');
    },
  };
}
