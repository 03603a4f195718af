import type { RecordEvent } from '../history/types.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { StateKeeper } from '../state/keeper.js';
import type { StoredCert } from '../store/types.js';
import type { Timers } from '../time.js';
import { openLocalJournal, stateJournal, type TargetJournal } from './journal.js';
import { DeliveryManager, type DeliveryMetrics } from './manager.js';
import type { Target } from './types.js';

/** Options of {@link startDelivery}. */
export interface StartDeliveryOptions {
  readonly targets: readonly Target[];
  /** The certificate folder (its local journal of per-instance targets). */
  readonly certDir: string;
  /** The state, whose `targets` section journals the shared targets; absent on a follower (per-instance targets only). */
  readonly state?: StateKeeper;
  /** The certificates in the folder now: what the journal lacks is delivered. */
  readonly found: readonly StoredCert[];
  readonly log: Logger;
  readonly timers?: Timers;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly metrics?: DeliveryMetrics & { attach(sources: { targetsPending: () => ReadonlyMap<string, number> }): void };
  /** Records deliveries in the history. @default none */
  readonly record?: RecordEvent;
  /** Which targets take which certificate (their policy's `targets:`). @default all of them */
  readonly accepts?: (target: string, id: string) => boolean;
}

/**
 * Starts delivering for one run of the pipeline (or one follower term): the journals (the state's `targets`
 * section for shared targets, `.whisper-targets-local.json` for per-instance ones), the manager, and the deliveries
 * resumed from the journal. Without a state only `perInstance` targets are delivered (a follower under `--ha`).
 * `undefined` when there is nothing to deliver to.
 */
export async function startDelivery(options: StartDeliveryOptions): Promise<DeliveryManager | undefined> {
  const targets = options.state ? options.targets : options.targets.filter((t) => t.perInstance === true);
  if (targets.length === 0) return undefined;
  const log = options.log;
  const timers = options.timers ? { timers: options.timers } : {};
  const local: TargetJournal | undefined = targets.some((t) => t.perInstance) ? await openLocalJournal(options.certDir, log, timers) : undefined;
  const shared = options.state ? stateJournal(options.state) : undefined;
  const manager = new DeliveryManager({
    targets,
    journal: (t) => (t.perInstance ? local : shared) ?? local!,
    log,
    ...timers,
    ...(options.now ? { now: options.now } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.accepts ? { accepts: options.accepts } : {}),
    ...(options.record ? { record: options.record } : {}),
  });
  options.metrics?.attach({ targetsPending: () => manager.pending() });
  log.info({ targets: manager.names, certificates: options.found.length }, 'delivering to targets');
  manager.resume(options.found);
  manager.sweep();
  return manager;
}

/** Closes every target (their clients and sockets) at the daemon's end; a failure is logged. */
export async function closeTargets(targets: readonly Target[], log: Logger): Promise<void> {
  await Promise.all(
    targets.map((t) => t.close?.().catch((err: unknown) => log.warn({ target: t.name, err: errorMessage(err) }, 'target not closed cleanly'))),
  );
}
