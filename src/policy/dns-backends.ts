import type { Config } from '../config.js';
import { createExecProvider } from '../dns/exec.js';
import { lazyRoute53 } from '../dns/factory.js';
import { createNoneProvider } from '../dns/none.js';
import type { DnsProvider } from '../dns/provider.js';
import { createRfc2136Provider } from '../dns/rfc2136.js';
import { WhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DnsBackendSpec, PolicyFile } from './file-types.js';
import { createChallengeCleanup, type ChallengeCleanup } from '../acme/cleanup.js';
import { backendJournalFile, cleanOrphanChallenges, createChallengeJournal, type ChallengeJournal } from '../acme/journal.js';
import type { Timers } from '../time.js';

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
  /** The background clean-up of a back end built here (its own journal), for the issuer's `cleanupFor`. */
  cleanupFor(dns: DnsProvider): ChallengeCleanup | undefined;
  /** At start: the records a killed run left in each back end's journal, removed through that back end. */
  cleanOrphans(signal: AbortSignal): Promise<void>;
  /** Sends the clean-ups still pending, then closes every back end built (their batches flushed). */
  close(): Promise<void>;
}

/** Options of {@link createDnsBackends}. */
export interface DnsBackendsOptions {
  /** The file in force (asked at each use: a reload may change a back end). */
  readonly file: () => PolicyFile | undefined;
  readonly config: Config;
  readonly log: Logger;
  /** Batches a provider (see `dns/batch.ts`). */
  readonly wrap: (provider: DnsProvider, name: string) => DnsProvider;
  /** @default the process's timers */
  readonly timers?: Timers;
}

/**
 * The config file's `dns:` back ends for the orders of the pipeline, each with its own challenge journal
 * (`.whisper-challenges-<name>.json`) and background clean-up, as the default back end has. A reload that changes a
 * back end's settings builds it anew for the next orders; the old one is closed at the end, as orders may still use it.
 */
export function createDnsBackends(o: DnsBackendsOptions): DnsBackends {
  const built = new Map<string, DnsProvider>();
  const cleanups = new Map<DnsProvider, ChallengeCleanup>();
  const journals = new Map<string, ChallengeJournal>();
  const journalOf = (name: string): ChallengeJournal => {
    let journal = journals.get(name);
    if (!journal) {
      journal = createChallengeJournal(o.config.certDir, { log: o.log, fileName: backendJournalFile(name) });
      journals.set(name, journal);
    }
    return journal;
  };
  const get = (name: string): DnsProvider => {
    const spec = o.file()?.dns[name];
    if (!spec) throw new WhisperError('CONFIG_INVALID', `DNS back end ${name}: not in the config file in force`);
    const key = `${name}\u0000${JSON.stringify(spec)}`;
    let provider = built.get(key);
    if (!provider) {
      provider = o.wrap(dnsProviderOf(spec, o.config, o.log.child({ backend: name })), name);
      built.set(key, provider);
      const cleanup = createChallengeCleanup({ dns: provider, journal: journalOf(name), log: o.log.child({ backend: name }), background: true, ...(o.timers ? { timers: o.timers } : {}) });
      cleanups.set(provider, cleanup);
    }
    return provider;
  };
  return {
    get,
    cleanupFor: (dns) => cleanups.get(dns),
    async cleanOrphans(signal) {
      for (const name of Object.keys(o.file()?.dns ?? {})) {
        await cleanOrphanChallenges(journalOf(name), get(name), o.log.child({ backend: name }), signal);
      }
    },
    async close() {
      await Promise.all([...cleanups.values()].map((c) => c.flush()));
      await Promise.all([...built.values()].map((p) => p.close?.()));
      built.clear();
      cleanups.clear();
    },
  };
}
