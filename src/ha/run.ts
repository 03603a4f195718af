import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import type { CertStore } from '../store/types.js';
import type { Sleep } from '../time.js';
import { runLeaderLoop } from './leader.js';
import { haConsul } from './session.js';
import { createKvMirrorStore, publishFolder } from './kv-store.js';
import { runKvSync, syncOnce } from './kv-sync.js';

/** What {@link runHa} runs while it leads: the daemon's pipeline with the given Consul client and store. */
export type Pipeline = (signal: AbortSignal, parts: { consul: ConsulApi; store: CertStore }) => Promise<void>;

/** Options of {@link runHa}. */
export interface HaRunOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly consul: ConsulApi;
  /** The local folder store. */
  readonly folder: CertStore;
  readonly sleep: Sleep;
  readonly pipeline: Pipeline;
  /** The `whisper_leader` gauge, when metrics are served. */
  readonly metrics?: { setLeader(leading: boolean): void };
}

/**
 * `--ha` and `--store consul` around the pipeline: with `--ha`, only the holder of the Consul lock runs it; with
 * `--store consul`, the writer also puts each certificate in KV and the others copy them into their folder.
 */
export async function runHa(options: HaRunOptions, signal: AbortSignal): Promise<void> {
  const { config, log, consul, folder, sleep } = options;
  const prefix = config.storePrefix ?? 'whisper/certs';
  const kvLog = log.child({ component: 'kv-store' });
  const inConsul = config.store === 'consul';
  // The pipeline closes its client when it stops; this one outlives each leadership term.
  const shared: ConsulApi = { ...consul, close: undefined };
  const store = inConsul ? createKvMirrorStore(folder, { api: consul, prefix, log: kvLog, sleep }) : folder;
  const syncOptions = () => {
    if (!consul.kvList) throw new Error('this Consul client cannot list KV');
    return { api: { kvList: consul.kvList.bind(consul) }, prefix, store: folder, log: kvLog, sleep, wait: config.consul.wait };
  };

  const lead = async (s: AbortSignal) => {
    if (inConsul) {
      // Catch up with what the last leader wrote before planning anything, then share what only this folder has.
      const pass = await syncOnce(syncOptions(), s);
      await publishFolder(folder, pass.bundles, { api: consul, prefix, log: kvLog, sleep }, s);
    }
    options.metrics?.setLeader(true);
    try {
      await options.pipeline(s, { consul: shared, store });
    } finally {
      options.metrics?.setLeader(false);
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
        wait: config.consul.wait,
        sleep,
        log: log.child({ component: 'ha' }),
        lead,
        ...(inConsul ? { follow: (s: AbortSignal) => runKvSync(syncOptions(), s) } : {}),
      },
      signal,
    );
  } finally {
    consul.close?.();
  }
}
