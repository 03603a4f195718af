import { errorMessage } from '../errors.js';
import type { MetricsSources } from './metrics.js';

/** Answer of {@link checkReady}: `/readyz` sends 200 when `ready`, else 503 with `reason`. */
export interface Readiness {
  readonly ready: boolean;
  /** Why the daemon is not ready (short, free of secrets). */
  readonly reason?: string;
}

/** Options of {@link checkReady}. */
export interface ReadyOptions {
  /** The clock. @default Date.now */
  readonly now?: () => number;
  /** A watcher answer younger than this proves Consul reachable without a probe. @default 60000 */
  readonly recentMs?: number;
  /** Longest wait for the `leader()` probe. @default 2000 */
  readonly probeTimeoutMs?: number;
}

/**
 * Ready when the ACME account is loaded (a leader, or without high availability) and Consul is reachable: a recent catalog answer, or else a quick
 * `/v1/status/leader` call that names a leader.
 */
export async function checkReady(sources: MetricsSources, options: ReadyOptions = {}): Promise<Readiness> {
  const now = options.now ?? Date.now;
  // A follower (high availability) orders nothing: its account is loaded only once it leads.
  const leading = sources.leader?.() ?? true;
  if (leading && !sources.accountReady?.()) return { ready: false, reason: 'ACME account not ready' };
  const last = sources.watcherLastSuccess?.();
  if (last !== undefined && now() - last < (options.recentMs ?? 60_000)) return { ready: true };
  if (!sources.consulLeader) return { ready: false, reason: 'Consul not reached yet' };
  try {
    const leader = await sources.consulLeader(AbortSignal.timeout(options.probeTimeoutMs ?? 2000));
    return leader ? { ready: true } : { ready: false, reason: 'Consul has no leader' };
  } catch (err) {
    return { ready: false, reason: `Consul unreachable: ${errorMessage(err)}` };
  }
}
