import type { Config } from '../config.js';
import { createExecProvider } from '../dns/exec.js';
import { lazyRoute53 } from '../dns/factory.js';
import { createNoneProvider } from '../dns/none.js';
import type { DnsProvider } from '../dns/provider.js';
import { createRfc2136Provider } from '../dns/rfc2136.js';
import { WhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DnsBackendSpec, PolicyFile } from './file-types.js';

/** The DNS provider a named back end of the config file describes (not batched). */
export function dnsProviderOf(spec: DnsBackendSpec, config: Config, log: Logger): DnsProvider {
  switch (spec.provider) {
    case 'route53':
      return lazyRoute53({
        region: spec.region ?? config.route53.region,
        requestsPerSecond: spec.requestsPerSecond ?? config.route53.requestsPerSecond,
        ...((spec.endpoint ?? config.route53.endpoint) ? { endpoint: spec.endpoint ?? config.route53.endpoint! } : {}),
        ...(spec.profile ? { profile: spec.profile } : {}),
        log,
      });
    case 'rfc2136':
      return createRfc2136Provider({
        server: spec.server,
        ...(spec.zone ? { zone: spec.zone } : {}),
        ...(spec.tsig ? { tsig: { name: spec.tsig.name, algorithm: spec.tsig.algorithm, secret: spec.tsig.secret } } : {}),
        log,
      });
    case 'exec':
      return createExecProvider({ command: spec.command });
    case 'none':
      return createNoneProvider();
  }
}

/** The named DNS back ends of the file in force, each built (and batched by `wrap`) on first use. */
export interface DnsBackends {
  /** The back end `name` of the file in force; throws `CONFIG_INVALID` when the file has none of that name. */
  get(name: string): DnsProvider;
  /** Closes every back end built (their batches flushed). */
  close(): Promise<void>;
}

/**
 * The config file's `dns:` back ends for the orders of the pipeline. A reload that changes a back end's settings
 * builds it anew for the next orders; the old one is closed at the end, as orders may still use it.
 */
export function createDnsBackends(
  file: () => PolicyFile | undefined,
  config: Config,
  log: Logger,
  wrap: (provider: DnsProvider, name: string) => DnsProvider,
): DnsBackends {
  const built = new Map<string, DnsProvider>();
  return {
    get(name) {
      const spec = file()?.dns[name];
      if (!spec) throw new WhisperError('CONFIG_INVALID', `DNS back end ${name}: not in the config file in force`);
      const key = `${name}\u0000${JSON.stringify(spec)}`;
      let provider = built.get(key);
      if (!provider) {
        provider = wrap(dnsProviderOf(spec, config, log.child({ backend: name })), name);
        built.set(key, provider);
      }
      return provider;
    },
    async close() {
      await Promise.all([...built.values()].map((p) => p.close?.()));
      built.clear();
    },
  };
}
