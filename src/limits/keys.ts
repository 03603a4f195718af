import { getDomain } from 'tldts';
import type { BucketKind } from './config.js';

/** An order as the budget sees it. */
export interface BudgetOrder {
  /** DNS identifiers of the order. */
  readonly names: readonly string[];
  /** An ARI renewal carrying `replaces`: exempt from every limit. */
  readonly replaces?: boolean;
  /** A renewal of the same name set without ARI: exempt from `newOrders` and `registeredDomain`. */
  readonly renewal?: boolean;
}

function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

const MAX_CACHED_DOMAINS = 10_000;
/** {@link registeredDomain} by name: the same few domains come back on every replay of the history. */
const domains = new Map<string, string>();

/**
 * The registered domain (eTLD+1, Public Suffix List) a name counts against; the name itself when it has none.
 * The list's private section counts too (`foo.github.io` is its own domain), as at Let's Encrypt.
 */
export function registeredDomain(name: string): string {
  const cached = domains.get(name);
  if (cached !== undefined) return cached;
  const host = normalize(name).replace(/^\*\./, '');
  const domain = getDomain(host, { allowPrivateDomains: true }) ?? host;
  // Every budget check replays the whole history: without the cache that is a list lookup per name per event.
  if (domains.size >= MAX_CACHED_DOMAINS) domains.clear();
  domains.set(name, domain);
  return domain;
}

/** The key of the exact-set bucket: the distinct names, lowercase, sorted, joined by `,`. */
export function exactSetKey(names: readonly string[]): string {
  return [...new Set(names.map(normalize))].sort().join(',');
}

/** The bucket kinds an order draws from at order time, exemptions applied (authorization failures are counted separately). */
export function orderKinds(order: BudgetOrder): BucketKind[] {
  if (order.replaces) return [];
  return order.renewal ? ['exactSet'] : ['registeredDomain', 'exactSet', 'newOrders'];
}

/** The keys of one kind an order touches: one per registered domain, per identifier, or a single key. */
export function bucketKeys(kind: BucketKind, order: BudgetOrder, account: string): string[] {
  switch (kind) {
    case 'registeredDomain':
      return [...new Set(order.names.map(registeredDomain))].sort();
    case 'exactSet':
      return [exactSetKey(order.names)];
    case 'newOrders':
      return [account];
    case 'authzFailures':
      return [...new Set(order.names.map(normalize))].sort();
  }
}
