// The pieces the daemon and the operator's commands build the same way from the configuration.
import { homedir } from 'node:os';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createFolderStore } from './store/folder.js';
import type { CertStore } from './store/types.js';
import { createAcmeIssuer } from './acme/issuer.js';
import type { ChallengeJournal } from './acme/journal.js';
import type { ChallengeCleanup } from './acme/cleanup.js';
import type { Issuer } from './acme/types.js';
import type { DnsProvider } from './dns/provider.js';
import { waitForPropagation } from './dns/propagation.js';
import { missingRecords } from './dns/present-check.js';
import { createCnameLookup, followCname } from './dns/cname.js';
import type { Sleep } from './time.js';
import type { Http01Solver } from './http01/solver.js';

export { consulFromConfig } from './consul/from-config.js';

/**
 * Builds the store the configuration describes. Its account key is `-a` when given, else the folder's `.acme`, else
 * `~/.acme` (the last whisper's default), else a new `<folder>/.acme` (see `resolveAccountKeyFile`).
 */
export function storeFromConfig(config: Config, log: Logger): CertStore {
  return createFolderStore(config.certDir, {
    formats: config.formats,
    formatsDir: config.formatsDir,
    log,
    homeDir: homedir(),
    ...(config.acmeKeyFile ? { accountKeyFile: config.acmeKeyFile } : {}),
  });
}

/** Builds the ACME issuer the configuration describes (the daemon's, and that of `whisper-ts renew` without one). */
export function issuerFromConfig(
  config: Config,
  store: CertStore,
  dns: DnsProvider,
  journal: ChallengeJournal,
  cleanup: ChallengeCleanup,
  log: Logger,
  sleep: Sleep,
  http01?: Http01Solver,
  cleanupFor?: (dns: DnsProvider) => ChallengeCleanup,
): Issuer {
  const lookup = createCnameLookup(config.dnsResolvers.length > 0 ? { servers: config.dnsResolvers } : {});
  return createAcmeIssuer({
    directoryUrl: config.directoryUrl,
    store,
    dns,
    journal,
    cleanup,
    ...(cleanupFor ? { cleanupFor } : {}),
    keyType: config.keyType,
    log,
    sleep,
    ...(config.email ? { email: config.email } : {}),
    ...(config.eab ? { eab: config.eab } : {}),
    ...(config.caBundle ? { caBundle: config.caBundle } : {}),
    challengeTarget: (fqdn, signal) => followCname(fqdn, lookup, signal ? { signal } : {}),
    challenge: config.challenge,
    ...(http01 ? { http01 } : {}),
    allowWildcard: config.allowWildcard,
    // The order's own back end (a config file's named one) knows its name servers best; else the default's.
    missingRecords: (records, signal, orderDns = dns) =>
      missingRecords(records, {
        ...(signal ? { signal } : {}),
        ...(config.dnsResolvers.length > 0 ? { servers: config.dnsResolvers } : {}),
        ...(orderDns.nameservers ? { nameservers: orderDns.nameservers.bind(orderDns) } : {}),
      }),
    propagate: (records, signal, orderDns = dns) =>
      waitForPropagation(records, {
        timeoutMs: config.propagationTimeoutMs,
        sleep,
        ...(signal ? { signal } : {}),
        ...(config.dnsResolvers.length > 0 ? { servers: config.dnsResolvers } : {}),
        ...(orderDns.nameservers ? { nameservers: orderDns.nameservers.bind(orderDns) } : {}),
      }),
  });
}
