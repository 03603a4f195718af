import type { Config } from '../config.js';
import type { ConsulApi } from '../consul/api.js';
import { consulFromConfig, storeFromConfig } from '../from-config.js';
import { WhisperError } from '../errors.js';
import { accountKvKey, createKvAccountStore } from '../ha/kv-account.js';
import { kvCodec } from '../ha/kv-crypto.js';
import type { Logger } from '../log.js';
import { pendingKeyFileOf } from '../store/account-key-path.js';
import type { CertStore } from '../store/types.js';

/** The account store of the account commands, as the daemon builds it. */
export interface AccountStore {
  /** The folder store, or under `--ha` the cluster's account in Consul KV around it. */
  readonly store: CertStore;
  /** The certificate folder, for messages. */
  readonly folder: string;
  /** `<account key file>.next`: where a rollover keeps the new key until the account holds it. */
  readonly pendingKeyFile: string;
  /** Closes the Consul client this made (none given, `--ha`); safe to call more than once. */
  close(): void;
}

/**
 * The store whose account the daemon uses: the folder store (`storeFromConfig`: `-a`, the folder's `.acme`,
 * `~/.acme`), wrapped under `--ha` with the cluster's account in Consul KV (`<lock-key>/account`, encrypted with
 * `--kv-encryption-key-file` when given), as `ha/kv-shared.ts` does. `--store consul` without `--ha` keeps the account
 * in the folder, as the daemon does. The pending key file sits beside the account key file the folder store resolves.
 * @param consul the Consul client to use under `--ha` (not closed by `close`). @default one built from `config`
 */
export async function accountStore(config: Config, log: Logger, consul?: ConsulApi): Promise<AccountStore> {
  const folder = storeFromConfig(config, log);
  const common = { folder: config.certDir, pendingKeyFile: await pendingKeyFileOf(config) };
  const ha = config.ha;
  if (ha === undefined) return { ...common, store: folder, close: () => undefined };

  const client = consul ?? consulFromConfig(config);
  const { kvRead, kvCas } = client;
  if (kvRead === undefined || kvCas === undefined) {
    throw new WhisperError('CONFIG_INVALID', '--ha: this Consul client cannot read and check-and-set KV (needed for the shared ACME account)');
  }
  const api = { kvRead: kvRead.bind(client), kvCas: kvCas.bind(client) };
  const codec = kvCodec(config.kvEncryption?.keyring);
  const store = createKvAccountStore(folder, { api, key: accountKvKey(ha.lockKey), codec, log: log.child({ component: 'kv-store' }) });
  let closed = consul !== undefined;
  return {
    ...common,
    store,
    close() {
      if (closed) return;
      closed = true;
      client.close?.();
    },
  };
}
