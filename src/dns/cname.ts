import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { WhisperError } from '../errors.js';

const { Resolver } = dnsPromises;

/** Finds the CNAME target of `name` (lowercase, no trailing dot), or `undefined` when it has none. */
export type CnameLookup = (name: string, signal?: AbortSignal) => Promise<string | undefined>;

/** Options of {@link followCname}. */
export interface FollowCnameOptions {
  /** Most CNAMEs followed before giving up. @default 10 */
  maxHops?: number;
  signal?: AbortSignal;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * Where the TXT record for `fqdn` must really be published: when `_acme-challenge.x` is a CNAME (the
 * usual way to delegate validation to another zone), the end of the chain, else `fqdn` itself.
 * A loop or a chain longer than `maxHops` is a non-retryable `DNS_PROVIDER` error naming `fqdn`.
 */
export async function followCname(
  fqdn: string,
  lookup: CnameLookup,
  options: FollowCnameOptions = {},
): Promise<string> {
  const maxHops = options.maxHops ?? 10;
  let name = normalize(fqdn);
  const seen = [name];
  for (;;) {
    if (options.signal?.aborted) throw new WhisperError('ABORTED', `CNAME lookup of ${fqdn}: aborted`);
    const found = await lookup(name, options.signal);
    if (found === undefined) return name;
    const target = normalize(found);
    if (seen.includes(target)) {
      throw new WhisperError('DNS_PROVIDER', `CNAME loop from ${fqdn}: ${[...seen, target].join(' -> ')}`);
    }
    if (seen.length > maxHops) {
      throw new WhisperError('DNS_PROVIDER', `CNAME chain from ${fqdn} longer than ${maxHops} hops`);
    }
    seen.push(target);
    name = target;
  }
}

/** `host:port`, `[v6]:port`, a bare IPv4/IPv6 address or a host name → host and port (@default 53). */
export function parseHostPort(server: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracketed?.[1] !== undefined) return { host: bracketed[1], port: Number(bracketed[2] ?? 53) };
  if (isIP(server) === 6) return { host: server, port: 53 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(server);
  if (m?.[1] === undefined) throw new WhisperError('CONFIG_INVALID', `not a DNS server address: ${server}`);
  const port = Number(m[2] ?? 53);
  if (port < 1 || port > 65535) throw new WhisperError('CONFIG_INVALID', `bad port in DNS server address: ${server}`);
  return { host: m[1], port };
}

/**
 * DNS server strings (`host:port`, see {@link parseHostPort}) in the form node's `Resolver.setServers`
 * accepts (`ip:port`, `[v6]:port`): host names are resolved through the system resolver first.
 */
export async function toResolverServers(servers: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const server of servers) {
    const { host, port } = parseHostPort(server);
    const ips = isIP(host) ? [host] : (await dnsPromises.lookup(host, { all: true })).map((a) => a.address);
    for (const ip of ips) out.push(isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`);
  }
  return out;
}

/** Makes a fresh node:dns Resolver per query, so that cancelling one query cannot cancel another's. */
export type ResolverFactory = () => Promise<InstanceType<typeof Resolver>>;

/**
 * A {@link ResolverFactory} asking `servers` (`host:port` strings; the system resolvers when empty).
 * Host names are resolved once, on first use.
 */
export function resolverFactory(
  servers: readonly string[] = [],
  options: { timeoutMs?: number; tries?: number } = {},
): ResolverFactory {
  let addresses: Promise<string[]> | undefined;
  return async () => {
    const resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
    if (servers.length > 0) {
      addresses ??= toResolverServers(servers);
      resolver.setServers(await addresses);
    }
    return resolver;
  };
}

/** Runs one query on its own `resolver`, cancelling it when `signal` aborts (then `ABORTED`). */
export async function withSignal<T>(
  resolver: InstanceType<typeof Resolver>,
  signal: AbortSignal | undefined,
  what: string,
  query: (r: InstanceType<typeof Resolver>) => Promise<T>,
): Promise<T> {
  if (!signal) return query(resolver);
  if (signal.aborted) throw new WhisperError('ABORTED', `${what}: aborted`);
  const onAbort = () => resolver.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await query(resolver);
  } catch (err) {
    if (signal.aborted) throw new WhisperError('ABORTED', `${what}: aborted`, { cause: err });
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** DNS error codes that mean "no such record" rather than "could not ask". */
export const NO_RECORD_CODES: ReadonlySet<string> = new Set(['ENODATA', 'ENOTFOUND']);

/**
 * The default {@link CnameLookup}: node:dns through `servers` (`host:port` strings; the system resolvers
 * when none). No data or no such name is "no CNAME"; any other failure is a retryable `DNS_PROVIDER` error.
 */
export function createCnameLookup(options: { servers?: readonly string[]; timeoutMs?: number } = {}): CnameLookup {
  const newResolver = resolverFactory(options.servers, { timeoutMs: options.timeoutMs });
  return async (name, signal) => {
    const what = `CNAME lookup of ${name}`;
    try {
      const targets = await withSignal(await newResolver(), signal, what, (r) => r.resolveCname(name));
      return targets[0];
    } catch (err) {
      if (err instanceof WhisperError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (NO_RECORD_CODES.has(code)) return undefined;
      throw new WhisperError('DNS_PROVIDER', `${what} failed: ${code || String(err)}`, { retryable: true, cause: err });
    }
  };
}
