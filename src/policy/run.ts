import type { Config } from '../config.js';
import { batchDnsProvider } from '../dns/batch.js';
import { WhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { WantedCert } from '../plan/types.js';
import type { StoredCert } from '../store/types.js';
import type { Timers } from '../time.js';
import { createDnsBackends, type DnsBackends } from './dns-backends.js';
import { loadPolicyFile } from './file.js';
import type { PolicyFile } from './file-types.js';
import { PolicyHolder } from './holder.js';
import type { PolicyCertificate } from './match.js';
import { acceptsTarget } from './targets.js';
import { watchPolicyFile } from './watch.js';
import type { CertPolicy, OnRemoval } from './types.js';
import type { RenewBefore } from '../lifecycle/schedule.js';

/**
 * Every challenge the file asks for can be answered: `http-01` needs `--http01-listen` or `--http01-webroot`.
 * Throws `CONFIG_INVALID` naming the file and the rule, so the daemon exits 2 at start (a reload keeps the old file).
 */
export function checkPolicyFile(file: PolicyFile, config: Pick<Config, 'http01Listen' | 'http01Webroot'>): void {
  if (config.http01Listen !== undefined || config.http01Webroot !== undefined) return;
  const where = [
    ...(file.defaults.challenge === 'http-01' ? ['defaults'] : []),
    ...file.rules.filter((r) => r.set.challenge === 'http-01').map((r) => `${r.label} (line ${r.line})`),
  ];
  if (where.length > 0) {
    throw new WhisperError('CONFIG_INVALID', `${file.path}: ${where.join(', ')}: challenge http-01 needs --http01-listen or --http01-webroot`);
  }
}

/** `--config` at start: the file loaded and checked, or `undefined` without one. Throws `CONFIG_INVALID` (exit 2). */
export async function loadPolicyAtStart(config: Config): Promise<PolicyHolder | undefined> {
  if (!config.configFile) return undefined;
  const file = await loadPolicyFile(config.configFile);
  checkPolicyFile(file, config);
  return new PolicyHolder(config, file);
}

/**
 * The certificate a file of the folder stands for, to find its policy when no plan names it (a certificate resumed
 * at start, one nobody wants any more): its names, and its zone from its id (`multi-hosts.<zone>`) or its first name's
 * parent.
 */
export function certOfFile(file: Pick<StoredCert, 'id' | 'names'>): PolicyCertificate {
  const multi = /^multi-hosts(?:-\d+)?\.(.+)$/.exec(file.id);
  const zone = multi?.[1] ?? file.id.split('.').slice(1).join('.');
  return { id: file.id, zone, names: file.names };
}

/** What the pipeline takes from the policy. */
export interface PolicyParts {
  readonly backends: DnsBackends;
  /** The reconciler's policy deps. */
  readonly reconciler: {
    readonly policyOf: (cert: WantedCert) => CertPolicy;
    readonly dnsBackend: DnsBackends['get'];
    readonly onRemovalOf: (file: StoredCert) => OnRemoval;
  };
  readonly renewBeforeOf: (cert: WantedCert) => RenewBefore | undefined;
  /** Which target takes which certificate; `find` gives the plan's certificate of an id when it has one. */
  readonly accepts: (target: string, id: string) => boolean;
  /** Starts watching the file: reloads go to the holder, then to `changed` (the reconciler re-plans). Returns a stop. */
  watch(changed: (file: PolicyFile) => void, signal: AbortSignal): () => void;
}

/** Options of {@link policyParts}. */
export interface PolicyPartsOptions {
  readonly policy: PolicyHolder;
  readonly config: Config;
  readonly log: Logger;
  /** The plan's certificate of an id, once the reconciler exists. */
  readonly find: (id: string) => WantedCert | undefined;
  /** The folder's certificates at start (policies of certificates the plan does not name yet), once listed. */
  readonly found: () => readonly StoredCert[];
  /** File target name → target names (see `fileTargets`). */
  readonly targetNames: ReadonlyMap<string, readonly string[]>;
  readonly timers?: Timers;
}

/** The policy's parts of one pipeline run. */
export function policyParts(o: PolicyPartsOptions): PolicyParts {
  const { policy, config, log } = o;
  const dnsLog = log.child({ component: 'dns' });
  const timers = o.timers ? { timers: o.timers } : {};
  const backends = createDnsBackends({ file: () => policy.file, config, log: dnsLog, wrap: (p) => batchDnsProvider(p, { log: dnsLog, ...timers }), ...timers });
  const certOf = (id: string): PolicyCertificate | undefined => {
    const wanted = o.find(id);
    if (wanted) return wanted;
    const file = o.found().find((f) => f.id === id);
    return file ? certOfFile(file) : undefined;
  };
  return {
    backends,
    reconciler: {
      policyOf: (cert) => policy.policyOf(cert),
      dnsBackend: (name) => backends.get(name),
      onRemovalOf: (file) => policy.policyOf(certOfFile(file)).onRemoval,
    },
    renewBeforeOf: (cert) => policy.policyOf(cert).renewBefore,
    accepts: (target, id) => {
      const cert = certOf(id);
      return cert === undefined || acceptsTarget(policy.policyOf(cert).targets, o.targetNames, target);
    },
    watch(changed, signal) {
      return watchPolicyFile(config.configFile!, {
        signal,
        log: log.child({ component: 'config' }),
        onChange: (file) => {
          try {
            checkPolicyFile(file, config);
          } catch (err) {
            log.warn({ code: 'CONFIG_INVALID', file: file.path }, `${(err as Error).message}; the previous config file stays in force`);
            return;
          }
          policy.update(file);
          log.info({ file: file.path, rules: file.rules.length, domains: file.domains.length }, 'config file reloaded');
          const added = Object.keys(file.targets).filter((n) => !o.targetNames.has(n));
          if (added.length > 0) log.warn({ targets: added }, 'targets added to the config file are built at the next start');
          changed(file);
        },
        onError: (err) => log.warn({ code: err.code }, `${err.message}; the previous config file stays in force`),
      });
    },
  };
}
