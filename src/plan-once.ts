import type { Config } from './config.js';
import type { ConsulApi } from './consul/api.js';
import { readCatalogs } from './consul/datacenters-read.js';
import { serviceNameOf } from './consul/datacenters.js';
import { kvEntries } from './consul/kv-watch.js';
import { WhisperError } from './errors.js';
import { IncrementalPlanner } from './plan/incremental.js';
import type { Plan } from './plan/planner.js';
import type { WantedCert } from './plan/types.js';
import { staticKeyPrefix } from './plan/static.js';
import { withPolicyNames } from './policy/apply.js';
import type { PolicyFile } from './policy/file-types.js';
import type { CertPolicy } from './policy/types.js';

/**
 * The plan the daemon would make now, read once (`--dryrun`, `check-config`): the Consul catalog (of every
 * `--datacenter`) and the `-l` static entries when `consul` is given, `DOMAINS`, the config file's `domains:`, and,
 * with `policyOf`, the rules' extra names. Planned with the daemon's own planner and options.
 */
export async function planOnce(
  config: Config,
  file: PolicyFile | undefined,
  consul: ConsulApi | undefined,
  policyOf?: (cert: WantedCert) => CertPolicy,
): Promise<Plan> {
  const planner = new IncrementalPlanner({
    ...(config.consul.datacenters ? { serviceName: serviceNameOf } : {}),
    allowDomains: config.allowDomains,
    allowWildcard: config.allowWildcard,
    domains: config.domains,
    listenPaths: config.listenPaths,
    ...(config.staticDomains ? { staticDomains: config.staticDomains } : {}),
  });
  if (consul !== undefined) {
    planner.update(await readCatalogs(consul, config.consul.datacenters), 'all');
    for (const prefix of config.listenPaths) {
      if (consul.kvList === undefined) throw new WhisperError('INTERNAL', 'this Consul client cannot list KV prefixes');
      const { items } = await consul.kvList(staticKeyPrefix(prefix), {});
      planner.updateStatic(prefix, kvEntries(items));
    }
  }
  const plan = planner.updateDomains('file', file?.domains ?? []);
  return policyOf ? withPolicyNames(plan, policyOf) : plan;
}
