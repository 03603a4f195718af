import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { WhisperError } from '../errors.js';
import type { DnsProvider } from './provider.js';
import type { Route53ProviderOptions } from './route53.js';
import { createRfc2136Provider } from './rfc2136.js';
import { createExecProvider } from './exec.js';
import { createNoneProvider } from './none.js';

/** The DNS provider the configuration names. */
export function createDnsProvider(config: Config, log: Logger): DnsProvider {
  switch (config.dnsProvider) {
    case 'route53':
      return lazyRoute53({
        region: config.route53.region,
        requestsPerSecond: config.route53.requestsPerSecond,
        ...(config.route53.endpoint ? { endpoint: config.route53.endpoint } : {}),
        log,
      });
    case 'rfc2136':
      if (!config.rfc2136) throw new WhisperError('CONFIG_INVALID', '--rfc2136-server: required with --dns-provider rfc2136');
      return createRfc2136Provider({ ...config.rfc2136, log });
    case 'exec':
      if (!config.execCommand) throw new WhisperError('CONFIG_INVALID', '--exec-command: required with --dns-provider exec');
      return createExecProvider({ command: config.execCommand });
    case 'none':
      return createNoneProvider();
  }
}

/**
 * The Route53 provider, its module (and the AWS SDK, some 10 MB of memory) loaded on the first call: a daemon
 * on another provider never pays for it.
 */
export function lazyRoute53(options: Route53ProviderOptions): DnsProvider {
  let loading: Promise<DnsProvider> | undefined;
  const provider = (): Promise<DnsProvider> => (loading ??= import('./route53.js').then((m) => m.createRoute53Provider(options)));
  return {
    name: 'route53',
    present: async (records, signal) => (await provider()).present(records, signal),
    cleanUp: async (records, signal) => (await provider()).cleanUp(records, signal),
    submit: async (mode, records, signal) => {
      const loaded = await provider();
      if (loaded.submit) return loaded.submit(mode, records, signal);
      await loaded[mode](records, signal);
      return async () => undefined;
    },
    batchKey: async (fqdn, signal) => {
      const loaded = await provider();
      // Route53's provider has one; without it every record is a batch of its own.
      return loaded.batchKey ? loaded.batchKey(fqdn, signal) : `record ${fqdn}`;
    },
    async close() {
      if (loading) await (await loading).close?.();
    },
  } satisfies DnsProvider;
}
