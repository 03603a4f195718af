import { stat } from 'node:fs/promises';
import { WhisperError } from '../errors.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ConsulApi, KvQuery } from '../consul/api.js';
import type { CertStore } from '../store/types.js';
import type { Sleep } from '../time.js';
import { accountKvKey, createKvAccountStore } from './kv-account.js';
import { keyFileModeProblem, kvCodec, type KvCodec } from './kv-crypto.js';
import { createKvState, stateKvKey, type SharedState } from './kv-state.js';
import { followAccount, followState } from './kv-follow.js';

/** Options of {@link prepareKvShared}. */
export interface KvSharedOptions {
  readonly config: Config;
  readonly consul: ConsulApi;
  readonly log: Logger;
  readonly sleep: Sleep;
  /** The daemon's stop signal (a leadership that ends with it still writes its last state to KV). @default none */
  readonly stop?: AbortSignal;
}

/** What the instances of a cluster share in Consul KV besides the certificates. */
export interface KvShared {
  /** How private keys go into KV: encrypted with `--kv-encryption-key-file`, or not. */
  readonly codec: KvCodec;
  /** `store` with the cluster's ACME account in KV (`--ha`), or `store` itself. */
  withAccount(store: CertStore): CertStore;
  /** For one leadership term: the lifecycle state shared in KV (`--ha`), or `undefined`. */
  state(): SharedState | undefined;
  /**
   * While another instance leads (`--ha`): keeps this instance's state file and account files (`folder`) copies of
   * the KV ones, until `signal` aborts and the last write is done. Without `--ha`, resolves at once.
   */
  follow(folder: CertStore, signal: AbortSignal): Promise<void>;
}

/**
 * Sets up the sharing of `--ha` (the ACME account at `<lock-key>/account`, the state at `<lock-key>/state`) and
 * the encryption of private keys in KV, and says at start what an operator should know: that private keys in KV
 * are unencrypted (no `--kv-encryption-key-file`), or that the key file's mode lets others read it.
 */
export async function prepareKvShared(options: KvSharedOptions): Promise<KvShared> {
  const { config, consul, log, sleep } = options;
  const codec = kvCodec(config.kvEncryption?.keyring);
  const ha = config.ha;
  const kvLog = log.child({ component: 'kv-store' });

  if (config.kvEncryption) {
    const { file } = config.kvEncryption;
    const mode = await stat(file).then((s) => s.mode, () => undefined);
    if (mode !== undefined && keyFileModeProblem(mode)) {
      log.warn({ file, mode: (mode & 0o777).toString(8) }, 'the KV encryption key file should be mode 0600 or 0400 (readable by whisper-ts\'s user only)');
    }
  } else {
    const keys = [...(ha ? [accountKvKey(ha.lockKey)] : []), ...(config.store === 'consul' ? [`${config.storePrefix ?? 'whisper/certs'}/`] : [])];
    log.warn({ keys }, 'private keys in Consul KV are stored unencrypted: anyone with KV read on these keys can read them; set --kv-encryption-key-file');
  }

  // The calls are looked up when used: a client without them fails the leader's first use, with a clear message.
  const kv = {
    kvRead: (key: string, q: KvQuery) => need(consul.kvRead, 'kvRead').call(consul, key, q),
    kvCas: (key: string, value: string, cas: number, signal?: AbortSignal) => need(consul.kvCas, 'kvCas').call(consul, key, value, cas, signal),
  };
  return {
    codec,
    withAccount: (store) => (ha ? createKvAccountStore(store, { api: kv, key: accountKvKey(ha.lockKey), codec, log: kvLog }) : store),
    state: () => (ha ? createKvState({ api: kv, key: stateKvKey(ha.lockKey), dir: config.certDir, log: log.child({ component: 'state' }), sleep, ...(options.stop ? { stop: options.stop } : {}) }) : undefined),
    async follow(folder, signal) {
      if (!ha) return;
      const common = { api: kv, log: log.child({ component: 'follower' }), sleep, wait: config.consul.wait };
      // Both run to their end (each finishes the write in progress) before this resolves; neither rejects.
      await Promise.allSettled([
        followState({ ...common, key: stateKvKey(ha.lockKey), dir: config.certDir }, signal),
        followAccount({ ...common, key: accountKvKey(ha.lockKey), folder, codec }, signal),
      ]);
    },
  };
}

function need<T>(fn: T | undefined, name: string): T {
  if (fn === undefined) throw new WhisperError('CONFIG_INVALID', `--ha: this Consul client cannot ${name} (needed for the shared ACME account and state)`);
  return fn;
}
