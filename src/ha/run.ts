import type { RecordEvent } from '../history/types.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import type { CertStore } from '../store/types.js';
import { systemTimers, type Sleep, type Timers } from '../time.js';
import { createNotifier, type Notifier } from '../consul/notify.js';
import { runLeaderLoop } from './leader.js';
import { haConsul } from './session.js';
import { createKvMirrorStore, publishFolder } from './kv-store.js';
import { runKvSync, syncOnce } from './kv-sync.js';
import { prepareKvShared } from './kv-shared.js';
import type { SharedState } from './kv-state.js';
import type { Target } from '../targets/types.js';
import { bundleItem } from '../targets/bundle.js';
import type { DeliveryManager } from '../targets/manager.js';
import { startDelivery, type StartDeliveryOptions } from '../targets/run.js';

/**
 * What {@link runHa} runs while it leads: the daemon's pipeline with the given Consul client and store, and under
 * `--ha` the state shared in Consul KV.
 */
export type Pipeline = (signal: AbortSignal, parts: { consul: ConsulApi; store: CertStore; sharedState?: SharedState }) => Promise<void>;

/** Options of {@link runHa}. */
export interface HaRunOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly consul: ConsulApi;
  /** The local folder store. */
  readonly folder: CertStore;
  readonly sleep: Sleep;
  /** Timers of the notify key's bumps for certificates copied from KV. @default systemTimers */
  readonly timers?: Timers;
  /** @default Date.now */
  readonly now?: () => number;
  readonly pipeline: Pipeline;
  /** The `whisper_leader` gauge, when metrics are served. */
  readonly metrics?: { setLeader(leading: boolean): void };
  /**
   * The delivery targets: while another instance leads, this one delivers the certificates it copies from KV
   * (`--store consul`) to its `perInstance` targets (its own HAProxy). @default []
   */
  readonly targets?: readonly Target[];
  /** Jitter of the follower's delivery retries. @default Math.random */
  readonly random?: () => number;
  /** The delivery counters and gauges, when metrics are served. */
  readonly deliveryMetrics?: StartDeliveryOptions['metrics'];
  /** Records the follower's deliveries in its history (every instance records what it did). @default none */
  readonly record?: RecordEvent;
}

/**
 * The folder, bumping the notify key for each certificate once its write is done (fsync'd and renamed into place):
 * this host's HAProxy reloads on a file it can read, never on the KV change that announced it. A removal (of a
 * superseded certificate) bumps it too, so HAProxy drops the old file once the folder is consistent.
 */
function notifyingFolder(folder: CertStore, notifier: Notifier, delivery: () => DeliveryManager | undefined): CertStore {
  const remove = folder.remove?.bind(folder);
  return {
    ...folder,
    async write(id, bundle) {
      const stored = await folder.write(id, bundle);
      notifier.changed([`${id}.pem`]);
      // This instance's own destinations (its HAProxy's runtime API) get the copy it just wrote.
      delivery()?.delivered(bundleItem(stored, bundle));
      return stored;
    },
    ...(remove
      ? {
          async remove(id: string) {
            const manager = delivery();
            const path = manager ? (await folder.read(id).catch(() => undefined))?.path : undefined;
            await remove(id);
            notifier.changed([`${id}.pem`]);
            if (path !== undefined) manager?.removed({ id, path });
          },
        }
      : {}),
  };
}

/**
 * `--ha` and `--store consul` around the pipeline: with `--ha`, only the holder of the Consul lock runs it; with
 * `--store consul`, the writer also puts each certificate in KV and the others copy them into their folder, each
 * bumping its own notify key once its files are written.
 */
export async function runHa(options: HaRunOptions, signal: AbortSignal): Promise<void> {
  const { config, log, consul, folder, sleep } = options;
  const prefix = config.storePrefix ?? 'whisper/certs';
  const kvLog = log.child({ component: 'kv-store' });
  const inConsul = config.store === 'consul';
  // The pipeline closes its client when it stops; this one outlives each leadership term.
  const shared: ConsulApi = { ...consul, close: undefined };
  // Under --ha the ACME account and the state live in KV too; private keys in KV are encrypted with a key file.
  const kv = await prepareKvShared({ config, consul, log, sleep, stop: signal });
  const store = inConsul ? createKvMirrorStore(kv.withAccount(folder), { api: consul, prefix, log: kvLog, sleep, codec: kv.codec }) : kv.withAccount(folder);
  const timers = options.timers ?? systemTimers;
  const notifier = createNotifier({ api: consul, key: config.notifyKey, intervalMs: config.notifyIntervalMs, timers, now: options.now ?? Date.now, log: log.child({ component: 'notify' }) });
  /** The follower's deliveries to per-instance targets, while it follows. */
  let following: DeliveryManager | undefined;
  const synced = notifyingFolder(folder, notifier, () => following);
  const syncOptions = () => {
    if (!consul.kvList) throw new Error('this Consul client cannot list KV');
    return { api: { kvList: consul.kvList.bind(consul) }, prefix, store: synced, log: kvLog, sleep, wait: config.consul.wait, codec: kv.codec };
  };

  const lead = async (s: AbortSignal) => {
    if (inConsul) {
      // Catch up with what the last leader wrote before planning anything, then share what only this folder has.
      const pass = await syncOnce(syncOptions(), s);
      await publishFolder(folder, pass.bundles, { api: consul, prefix, log: kvLog, sleep, codec: kv.codec }, s);
    }
    options.metrics?.setLeader(true);
    try {
      const sharedState = kv.state();
      await options.pipeline(s, { consul: shared, store, ...(sharedState ? { sharedState } : {}) });
    } finally {
      options.metrics?.setLeader(false);
    }
  };

  /**
   * While another instance leads: the certificates (`--store consul`), the state file and the account files follow
   * KV, in this instance's folder only. The leader loop awaits the end of every copy (a write in progress included)
   * before this instance leads, so a follower's write never races its own leadership's.
   */
  const follow = async (s: AbortSignal) => {
    // Only with --store consul does a follower write certificates; its own HAProxy gets each one it copies.
    following = inConsul ? await followerDelivery(options, folder) : undefined;
    try {
      const runs = await Promise.allSettled([...(inConsul ? [(async () => runKvSync(syncOptions(), s))()] : []), kv.follow(folder, s)]);
      const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      const manager = following;
      following = undefined;
      await manager?.stop();
    }
  };

  try {
    if (!config.ha) return await lead(signal);
    options.metrics?.setLeader(false);
    await runLeaderLoop(
      {
        api: haConsul(consul),
        key: config.ha.lockKey,
        ttlS: config.ha.sessionTtlS,
        lockDelayS: config.ha.lockDelayS,
        checkTtlS: config.ha.checkTtlS,
        wait: config.consul.wait,
        sleep,
        log: log.child({ component: 'ha' }),
        lead,
        follow,
      },
      signal,
    );
  } finally {
    // A bump still pending goes out before the client closes its connections.
    await notifier.close();
    consul.close?.();
  }
}

/** The deliveries of a follower: its per-instance targets only, journaled in its folder, resumed from it. */
async function followerDelivery(options: HaRunOptions, folder: CertStore): Promise<DeliveryManager | undefined> {
  const targets = (options.targets ?? []).filter((t) => t.perInstance === true);
  if (targets.length === 0) return undefined;
  const log = options.log.child({ component: 'targets' });
  const found = await folder.list().catch(() => []);
  return startDelivery({
    targets,
    certDir: options.config.certDir,
    found,
    log,
    ...(options.timers ? { timers: options.timers } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.deliveryMetrics ? { metrics: options.deliveryMetrics } : {}),
    ...(options.record ? { record: options.record } : {}),
  });
}
