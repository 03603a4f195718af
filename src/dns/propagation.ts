import { promises as dnsPromises } from 'node:dns';
import { WhisperError } from '../errors.js';
import { NO_RECORD_CODES, resolverFactory, withSignal, type ResolverFactory } from './cname.js';
import type { TxtRecord } from './provider.js';

export { abortableSleep, type Sleep } from '../time.js';
import { abortableSleep, type Sleep } from '../time.js';

/** Asks one DNS server (`host:port`) for the TXT values of `name`: each record's strings joined; none → `[]`. */
export type TxtQuery = (server: string, name: string, signal?: AbortSignal) => Promise<string[]>;

/**
 * The default {@link TxtQuery}: node:dns `resolveTxt` against the one server. No data and no such name
 * give `[]`; other failures (timeout, refusal) reject.
 */
export function createTxtQuery(options: { timeoutMs?: number; tries?: number } = {}): TxtQuery {
  const factories = new Map<string, ResolverFactory>();
  return async (server, name, signal) => {
    let factory = factories.get(server);
    if (!factory) {
      factory = resolverFactory([server], options);
      factories.set(server, factory);
    }
    try {
      const records = await withSignal(await factory(), signal, `TXT query of ${name}`, (r) => r.resolveTxt(name));
      return records.map((chunks) => chunks.join(''));
    } catch (err) {
      if (NO_RECORD_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return [];
      throw err;
    }
  };
}

/** Lookups {@link findAuthoritativeServers} needs; injected in tests. */
export interface NsLookups {
  /** The NS host names of `name`; `[]` when it has none (no data or no such name). */
  ns(name: string, signal?: AbortSignal): Promise<string[]>;
  /** The addresses of a host name. */
  addresses(host: string, signal?: AbortSignal): Promise<string[]>;
}

/**
 * {@link NsLookups} through the system resolver. IPv4 addresses are preferred: on a host without an
 * IPv6 route, queries to a v6 address would only ever time out.
 */
export function systemNsLookups(): NsLookups {
  const newResolver = resolverFactory();
  return {
    async ns(name, signal) {
      try {
        return await withSignal(await newResolver(), signal, `NS lookup of ${name}`, (r) => r.resolveNs(name));
      } catch (err) {
        if (NO_RECORD_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return [];
        throw err;
      }
    },
    async addresses(host) {
      const all = await dnsPromises.lookup(host, { all: true });
      const v4 = all.filter((a) => a.family === 4);
      return (v4.length > 0 ? v4 : all).map((a) => a.address);
    },
  };
}

/**
 * The authoritative servers of the zone holding `fqdn`: walks up from `fqdn` to the first name with
 * NS records and resolves those hosts (port 53). Throws a retryable `DNS_ZONE_NOT_FOUND` when none answer.
 */
export async function findAuthoritativeServers(
  fqdn: string,
  lookups: NsLookups = systemNsLookups(),
  signal?: AbortSignal,
): Promise<string[]> {
  const labels = fqdn.replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length; i++) {
    const name = labels.slice(i).join('.');
    const hosts = await lookups.ns(name, signal);
    if (hosts.length === 0) continue;
    const servers: string[] = [];
    for (const host of hosts) {
      const ips = await lookups.addresses(host, signal).catch(() => [] as string[]);
      for (const ip of ips) servers.push(ip.includes(':') ? `[${ip}]:53` : `${ip}:53`);
    }
    if (servers.length > 0) return [...new Set(servers)];
    break;
  }
  throw new WhisperError('DNS_ZONE_NOT_FOUND', `no authoritative name servers found for ${fqdn}`, { retryable: true });
}

/** Options of {@link waitForPropagation}. */
export interface PropagationOptions {
  /**
   * Resolvers to ask (`host:port`), from `--dns-resolver`. When given they are the only servers asked, whatever the
   * provider: the operator named them because the authoritative servers are unreachable or not what the CA sees.
   * @default the provider's own servers ({@link PropagationOptions.nameservers}), else the zone's authoritative ones
   */
  servers?: readonly string[];
  /** A provider's own servers for a name (RFC 2136: its server); asked when no `servers` are given. */
  nameservers?: (fqdn: string, signal?: AbortSignal) => Promise<string[]>;
  /** @default 120000 */
  timeoutMs?: number;
  /** First delay between rounds; grows ×1.5. @default 500 */
  intervalMs?: number;
  /** @default 10000 */
  maxIntervalMs?: number;
  /** @default {@link abortableSleep} */
  sleep?: Sleep;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
  signal?: AbortSignal;
  /** @default {@link createTxtQuery}() */
  queryTxt?: TxtQuery;
  /** How authoritative servers are found when neither `servers` nor `nameservers` gives any. @default system lookups */
  nsLookups?: NsLookups;
}

/** What is still awaited for one name. */
interface Waiting {
  readonly values: ReadonlySet<string>;
  readonly missing: Set<string>;
  readonly lastError: Map<string, string>;
}

/** The servers asked about `name`: `servers` when given, else the provider's own, else the zone's authoritative ones. */
export async function serversFor(name: string, options: PropagationOptions): Promise<string[]> {
  if (options.servers && options.servers.length > 0) return [...options.servers];
  const own = options.nameservers ? await options.nameservers(name, options.signal) : [];
  if (own.length > 0) return own;
  return findAuthoritativeServers(name, options.nsLookups, options.signal);
}

/**
 * Resolves when every server answers every expected value for each record's name (other values may be
 * there too: an apex and its wildcard share a name). A server stops being asked once it has them all.
 * After `timeoutMs`, a retryable `DNS_PROPAGATION_TIMEOUT` names each record and the servers still
 * missing it (never the values).
 */
export async function waitForPropagation(
  records: readonly TxtRecord[],
  options: PropagationOptions = {},
): Promise<void> {
  const { signal } = options;
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxInterval = options.maxIntervalMs ?? 10_000;
  const queryTxt = options.queryTxt ?? createTxtQuery();
  const start = now();

  const byName = new Map<string, Set<string>>();
  for (const r of records) {
    const name = r.fqdn.toLowerCase().replace(/\.$/, '');
    byName.set(name, (byName.get(name) ?? new Set()).add(r.value));
  }
  const waiting = new Map<string, Waiting>();
  for (const [name, values] of byName) {
    waiting.set(name, { values, missing: new Set(await serversFor(name, options)), lastError: new Map() });
  }

  let interval = options.intervalMs ?? 500;
  for (;;) {
    if (signal?.aborted) throw new WhisperError('ABORTED', 'propagation check aborted');
    const checks = [...waiting].flatMap(([name, w]) =>
      [...w.missing].map(async (server) => {
        try {
          const seen = new Set(await queryTxt(server, name, signal));
          w.lastError.delete(server);
          if ([...w.values].every((v) => seen.has(v))) w.missing.delete(server);
        } catch (err) {
          if (err instanceof WhisperError && err.code === 'ABORTED') throw err;
          w.lastError.set(server, (err as NodeJS.ErrnoException).code ?? (err as Error).name ?? 'error');
        }
      }),
    );
    await Promise.all(checks);
    for (const [name, w] of waiting) if (w.missing.size === 0) waiting.delete(name);
    if (waiting.size === 0) return;

    const left = timeoutMs - (now() - start);
    if (left <= 0) throw timeoutError(waiting, timeoutMs);
    await sleep(Math.min(interval, left), signal);
    interval = Math.min(interval * 1.5, maxInterval);
  }
}

function timeoutError(waiting: ReadonlyMap<string, Waiting>, timeoutMs: number): WhisperError {
  const parts = [...waiting].map(([name, w]) => {
    const servers = [...w.missing].map((s) => (w.lastError.has(s) ? `${s} (${w.lastError.get(s)})` : s));
    return `${name} not yet on ${servers.join(', ')}`;
  });
  const message = `TXT records not propagated after ${timeoutMs} ms: ${parts.join('; ')}`;
  return new WhisperError('DNS_PROPAGATION_TIMEOUT', message, { retryable: true });
}
