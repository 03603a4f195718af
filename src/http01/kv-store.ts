import type { ConsulApi } from '../consul/api.js';
import { WhisperError, errorMessage } from '../errors.js';
import { checkToken, type Http01Store } from './solver.js';
import { isAcmeToken } from './token.js';

/** The Consul KV calls the store uses. */
export type Http01Kv = Pick<ConsulApi, 'kvGet' | 'kvSet' | 'kvDelete'>;

/** Options of {@link createKvHttp01Store}. */
export interface KvHttp01StoreOptions {
  readonly api: Http01Kv;
  /** KV prefix, no trailing slash; each token is `<prefix>/<token>`. @default see {@link http01KvPrefix} */
  readonly prefix: string;
}

/**
 * KV prefix of the tokens under `--ha`: `<lock-key>/http01`, beside `<lock-key>/account` and `<lock-key>/state`, so
 * that the ACL every instance already has (`key_prefix "<lock-key>"`) covers it.
 */
export function http01KvPrefix(lockKey: string): string {
  return `${lockKey}/http01`;
}

/**
 * The tokens in Consul KV (`--http01-listen` with `--ha`): the leader presents them, the responder of every instance
 * reads them, so the load balancer may send the CA's request to any node. A failed KV write is `HTTP01`, retryable.
 */
export function createKvHttp01Store(options: KvHttp01StoreOptions): Http01Store {
  const { api, prefix } = options;
  const key = (token: string) => `${prefix}/${token}`;
  const fail = (what: string, err: unknown) => new WhisperError('HTTP01', `${what}: ${errorMessage(err)}`, { retryable: true, cause: err });
  return {
    name: 'consul-kv',
    async present(token, keyAuthorization, signal) {
      checkToken(token, keyAuthorization);
      try {
        await api.kvSet(key(token), keyAuthorization, signal);
      } catch (err) {
        throw fail(`could not put HTTP-01 token ${token} in Consul KV`, err);
      }
    },
    async cleanUp(token, signal) {
      checkToken(token);
      const del = api.kvDelete;
      if (!del) throw new WhisperError('INTERNAL', 'the Consul client cannot delete KV keys');
      try {
        await del.call(api, key(token), signal);
      } catch (err) {
        throw fail(`could not delete HTTP-01 token ${token} from Consul KV`, err);
      }
    },
    lookup(token, signal) {
      // Checked before the lookup: nothing but base64url reaches a KV path.
      return isAcmeToken(token) ? api.kvGet(key(token), signal) : Promise.resolve(undefined);
    },
  };
}
