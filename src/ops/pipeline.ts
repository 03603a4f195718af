import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { HistoryStore, RecordEvent } from '../history/types.js';
import type { RateBudget } from '../limits/budget.js';
import type { IssuanceQueue } from '../queue/queue.js';
import type { Reconciler } from '../reconcile.js';
import type { StateKeeper } from '../state/keeper.js';
import type { CertStore } from '../store/types.js';
import type { AcmeClientFactory } from '../acme/types.js';
import { revokeCertificate } from '../acme/revoke.js';
import { showAccount } from '../acme/account-ops.js';
import { bundleItem, type BundleItem } from '../targets/bundle.js';
import { createDaemonBackend } from './daemon-backend.js';
import { importedEntries } from './import.js';
import type { AccountView, OpsBackend, OpsEvents } from './types.js';

/** The pipeline's parts the admin API works with. */
export interface PipelineOps {
  readonly config: Config;
  readonly store: CertStore;
  readonly state: StateKeeper;
  readonly budget: RateBudget;
  readonly queue: IssuanceQueue;
  readonly reconciler: Reconciler;
  readonly history?: HistoryStore;
  readonly record: RecordEvent;
  readonly events?: OpsEvents;
  readonly clients: AcmeClientFactory;
  readonly notify: (files: readonly string[]) => void;
  readonly delivered?: (item: BundleItem) => void;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly now: () => number;
}

/** How long the account as the CA knows it is reused by the API (the dashboard asks on every load). */
const ACCOUNT_CACHE_MS = 60_000;

/**
 * The admin API's backend for one run of the pipeline: reads from the reconciler, queue, budget and state; a forced
 * renewal goes through the queue (budget-checked by the job itself), a revocation uses the account key, an import
 * writes the folder and re-plans.
 */
export function pipelineBackend(p: PipelineOps): OpsBackend {
  let account: { at: number; view: Promise<AccountView> } | undefined;
  const readAccount = (): Promise<AccountView> => {
    if (!account || p.now() - account.at > ACCOUNT_CACHE_MS) {
      const view = showAccount({ directoryUrl: p.config.directoryUrl, store: p.store, clients: p.clients, folder: p.config.certDir, log: p.log, signal: p.signal });
      account = { at: p.now(), view };
      view.catch(() => (account = undefined));
    }
    return account.view;
  };
  return createDaemonBackend({
    store: p.store,
    state: p.state,
    budget: p.budget,
    wanted: () => p.reconciler.wanted,
    queue: () => p.queue.snapshot(),
    ...(p.history ? { history: p.history } : {}),
    ...(p.events ? { events: p.events } : {}),
    account: readAccount,
    now: p.now,
    ...(p.config.renewBefore ? { status: { renewBefore: p.config.renewBefore, directoryUrl: p.config.directoryUrl } } : { status: { directoryUrl: p.config.directoryUrl } }),
    actions: {
      state: p.state,
      budget: p.budget,
      store: p.store,
      now: p.now,
      record: p.record,
      find: (id) => p.reconciler.find(id),
      run: (cert, reason, urgent) => {
        p.queue.enqueue(cert, reason, { urgent });
        return Promise.resolve();
      },
      revoke: (certPem, reason) => revokeCertificate({ directoryUrl: p.config.directoryUrl, store: p.store, clients: p.clients, certPem, reason, signal: p.signal, log: p.log }),
    },
    imports: {
      store: p.store,
      state: p.state,
      record: p.record,
      now: p.now,
      allowDomains: p.config.allowDomains,
      allowWildcard: p.config.allowWildcard,
      domains: p.config.domains,
      written: (stored, bundle) => {
        p.reconciler.importedChanged(importedEntries(p.state));
        p.notify([`${stored.id}.pem`]);
        p.delivered?.(bundleItem(stored, bundle));
      },
    },
  });
}
