import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import type { CertStore } from '../store/types.js';
import type { ListenAddress } from './address.js';
import type { WhisperMetrics } from './metrics.js';
import type { AdminHub } from '../admin/hub.js';

/** What {@link serveWhile} needs of the daemon's parts. */
export interface ServedParts {
  readonly consul: ConsulApi;
  readonly store: CertStore;
  /** The certificate folder: `/healthz` checks that it is writable. */
  readonly folder: string;
  readonly now?: () => number;
  readonly metrics?: WhisperMetrics;
  /** The admin API's hub (created here when absent); the daemon attaches its backend to it. */
  readonly admin?: AdminHub;
  /** `--admin-token-file`'s token: actions, and reads from other addresses than loopback, need it. */
  readonly adminToken?: string;
  /** Told the bound port once the server listens (the folder lock records the admin API's address). @default none */
  readonly onListening?: (port: number) => Promise<void>;
}

/**
 * Runs `run` with the metrics and health server listening on `listen`; the server closes when `run` ends, however
 * it ends. The server starts first, so `/healthz` answers while the daemon waits for the CA or for leadership.
 * Consul reachability and the folder's certificates are attached here, for followers too. `/healthz` probes that the
 * folder is writable in every mode: the pipeline writes it, a `--store consul` follower copies KV into it, and a
 * `--ha` follower with the folder store writes it once it leads.
 */
export async function serveWhile<P extends ServedParts>(
  listen: ListenAddress,
  log: Logger,
  parts: P,
  run: (parts: P & { readonly metrics: WhisperMetrics; readonly admin: AdminHub }) => Promise<void>,
): Promise<void> {
  const now = parts.now ?? Date.now;
  // Loaded here, not at start: prom-client and the server cost memory only when `--listen` asks for them.
  const [{ createMetrics }, { checkReady }, { checkFolderWritable }, { startHttpServer }, { createAdminHub }] = await Promise.all([
    import('./metrics.js'),
    import('./ready.js'),
    import('./health.js'),
    import('./server.js'),
    import('../admin/hub.js'),
  ]);
  const metrics = parts.metrics ?? createMetrics({ now });
  const admin = parts.admin ?? createAdminHub();
  metrics.attach({
    consulLeader: (signal) => parts.consul.leader(signal),
    certificates: () => parts.store.list(),
  });
  const server = await startHttpServer({
    listen,
    metrics,
    log: log.child({ component: 'http' }),
    health: () => checkFolderWritable(parts.folder),
    ready: () => checkReady(metrics.sources, { now }),
    admin: { hub: admin, now, ...(parts.adminToken !== undefined ? { token: parts.adminToken } : {}) },
  });
  try {
    await parts.onListening?.(server.port);
    await run({ ...parts, metrics, admin });
  } finally {
    await server.close();
  }
}
