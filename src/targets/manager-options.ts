import type { RecordEvent } from '../history/types.js';
import type { Logger } from '../log.js';
import type { Timers } from '../time.js';
import type { BundleItem } from './bundle.js';
import type { TargetJournal } from './journal.js';
import type { DeliveryRetry } from './retry.js';
import type { Target } from './types.js';

/** What a delivery or removal came to, for metrics. */
export type DeliveryResult = 'success' | 'failure' | 'skipped';

/** Where the manager reports each delivery and removal (the `/metrics` counters). */
export interface DeliveryMetrics {
  delivery(target: string, kind: 'deliver' | 'remove', result: DeliveryResult, at: number): void;
}

/** Options of {@link DeliveryManager}. */
export interface DeliveryManagerOptions {
  readonly targets: readonly Target[];
  /** The journal each target's records are kept in (shared state, or the local file for `perInstance` ones). */
  readonly journal: (target: Target) => TargetJournal;
  readonly log: Logger;
  /** Timers of the retries. @default systemTimers */
  readonly timers?: Timers;
  /** Timer of the bound on {@link DeliveryManager.stop}. @default heldTimers (a stop must end by itself) */
  readonly stopTimers?: Timers;
  /** @default Date.now */
  readonly now?: () => number;
  /** Jitter source of the retry delays. @default Math.random */
  readonly random?: () => number;
  /** Backoff of failed deliveries. @default { baseMs: 30000, maxMs: 3600000 } */
  readonly retry?: DeliveryRetry;
  /** Deliveries of one target in flight at once (each certificate has one at most). @default 4 */
  readonly concurrency?: number;
  /** How long {@link DeliveryManager.stop} waits for deliveries in flight before aborting them. @default 5000 */
  readonly stopTimeoutMs?: number;
  readonly metrics?: DeliveryMetrics;
  /** Records each delivery and removal that succeeded or failed in the history. @default none */
  readonly record?: RecordEvent;
  /**
   * Whether target `target` (its name) takes certificate `id` (the certificate's policy lists its targets:
   * `--config`). Removals go to every target that had it. @default every target takes every certificate
   */
  readonly accepts?: (target: string, id: string) => boolean;
  /** Reads a certificate of the folder back (deliveries resumed at start). @default readBundleItem */
  readonly load?: (id: string, path: string) => Promise<BundleItem | undefined>;
}
