import type { Config } from '../config.js';
import type { ConsulApi } from '../consul/api.js';
import type { Logger } from '../log.js';
import { createKvHttp01Store, http01KvPrefix } from './kv-store.js';
import { createMemoryHttp01Store } from './memory-store.js';
import { startHttp01Responder } from './responder.js';
import type { Http01Solver } from './solver.js';
import { createWebrootSolver } from './webroot.js';

/** The daemon's parts this wiring reads and adds. */
export interface Http01Parts {
  readonly consul?: ConsulApi;
  /** The HTTP-01 solver the issuer presents tokens with. */
  readonly http01?: Http01Solver;
}

/** Whether the options ask for HTTP-01 (`--http01-listen` or `--http01-webroot`). */
export function wantsHttp01(config: Pick<Config, 'http01Listen' | 'http01Webroot'>): boolean {
  return config.http01Listen !== undefined || config.http01Webroot !== undefined;
}

/**
 * Runs `run` with the HTTP-01 solver in its parts: `--http01-webroot` writes token files; `--http01-listen` starts
 * the built-in responder on every instance (leader or not), on tokens in this process, or in Consul KV under
 * `--ha` (`<lock-key>/http01/<token>`) so that any instance answers the leader's tokens. The responder closes when
 * `run` ends, however it ends.
 */
export async function withHttp01<P extends Http01Parts>(
  config: Config,
  log: Logger,
  parts: P,
  consulFromConfig: (config: Config) => ConsulApi,
  run: (parts: P & { readonly consul?: ConsulApi; readonly http01: Http01Solver }) => Promise<void>,
): Promise<void> {
  const http01Log = log.child({ component: 'http01' });
  if (config.http01Webroot !== undefined) return run({ ...parts, http01: createWebrootSolver({ dir: config.http01Webroot }) });
  const listen = config.http01Listen;
  if (listen === undefined) throw new Error('withHttp01 needs --http01-listen or --http01-webroot');
  const consul = config.ha ? (parts.consul ?? consulFromConfig(config)) : parts.consul;
  const store = config.ha && consul ? createKvHttp01Store({ api: consul, prefix: http01KvPrefix(config.ha.lockKey) }) : createMemoryHttp01Store();
  const responder = await startHttp01Responder({ listen, lookup: store.lookup, log: http01Log });
  try {
    await run({ ...parts, ...(consul ? { consul } : {}), http01: store });
  } finally {
    await responder.close();
  }
}
