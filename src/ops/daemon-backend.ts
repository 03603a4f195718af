import type { HistoryQuery, HistoryRow, HistoryStore } from '../history/types.js';
import type { RateBudget } from '../limits/budget.js';
import type { WantedCert } from '../plan/types.js';
import type { QueueEntry } from '../queue/types.js';
import type { StatusOptions } from '../status/status.js';
import type { StateKeeper } from '../state/keeper.js';
import type { CertStore } from '../store/types.js';
import { requestRenewal, revokeStored, type ActionDeps } from './actions.js';
import { importCertificates, type ImportDeps } from './import.js';
import type { AccountView, OpsBackend, OpsEvents } from './types.js';
import { certificateViews, limitsView } from './views.js';

/** The running pipeline's parts the admin API reads and acts on. */
export interface DaemonBackendDeps {
  readonly store: CertStore;
  readonly state: StateKeeper;
  readonly budget: RateBudget;
  readonly wanted: () => readonly WantedCert[];
  readonly queue: () => readonly QueueEntry[];
  readonly history?: HistoryStore;
  /** The account as the CA knows it (cached by the caller). */
  readonly account: () => Promise<AccountView>;
  readonly actions: ActionDeps;
  readonly imports: ImportDeps;
  readonly status?: StatusOptions;
  /** Told when something the dashboard shows changed. */
  readonly events?: OpsEvents;
  readonly now: () => number;
}

/** The admin API's view of a running daemon (see `ops/types.ts`). */
export function createDaemonBackend(deps: DaemonBackendDeps): OpsBackend {
  const changed = () => deps.events?.publish({ type: 'changed', what: 'certificates' });
  return {
    async certificates() {
      const files = await deps.store.list();
      return certificateViews(files, deps.wanted(), deps.state.state, deps.now(), deps.status);
    },
    queue: () => deps.queue(),
    limits: () => limitsView(deps.budget.snapshot(deps.now())),
    account: () => deps.account(),
    history: (q: HistoryQuery): readonly HistoryRow[] => deps.history?.query(q) ?? [],
    async renew(id, opts) {
      const result = await requestRenewal(deps.actions, id, opts);
      changed();
      return result;
    },
    async revoke(id, opts) {
      const result = await revokeStored(deps.actions, id, opts);
      changed();
      return result;
    },
    async importCerts(pems, opts) {
      const result = await importCertificates(deps.imports, pems, opts);
      changed();
      return result;
    },
  } satisfies OpsBackend;
}
