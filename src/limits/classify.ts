import type { BucketKind } from './config.js';
import { exactSetKey, registeredDomain, type BudgetOrder } from './keys.js';

/** The one limit a CA's 429 named: the bucket and the key it counts (a domain, a name set, an identifier, the account). */
export interface NamedLimit {
  readonly bucket: BucketKind;
  readonly key: string;
}

const unquote = (s: string): string => s.trim().toLowerCase().replace(/\.$/, '');

/**
 * Reads which limit a `rateLimited` problem's `detail` names, from Let's Encrypt's texts (both the 2025 wording,
 * e.g. `too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s`, and the
 * older one, e.g. `too many certificates already issued for exact set of domains`). `undefined` when the text names
 * no limit the budget models (new accounts per IP, a load balancer's limit, another CA's wording): the caller then
 * holds back only the order's own name set until the CA's `Retry-After`.
 */
export function namedLimit(detail: string, order: BudgetOrder, account: string): NamedLimit | undefined {
  const text = detail.replace(/\s+/g, ' ');
  if (/exact set of (identifiers|domains|names)/i.test(text)) return { bucket: 'exactSet', key: exactSetKey(order.names) };
  if (/too many new orders/i.test(text)) return { bucket: 'newOrders', key: account };
  const failed = /too many failed authorizations(?: \(\d+\))? (?:recently )?for "?([^"\s,:]+)"?/i.exec(text);
  if (failed?.[1]) return { bucket: 'authzFailures', key: unquote(failed[1]) };
  const domain = /too many certificates(?: \(\d+\))? already issued for:? "?([^"\s,:]+)"?/i.exec(text);
  if (domain?.[1]) return { bucket: 'registeredDomain', key: registeredDomain(unquote(domain[1])) };
  return undefined;
}

/**
 * How the budget sees an order, the same for the check before it and the record after it: an ARI renewal
 * (`replaces` sent) is exempt from everything, a renewal of the same names from `newOrders` and `registeredDomain`.
 */
export function classifyOrder(names: readonly string[], replaces: boolean, renewal: boolean): BudgetOrder {
  return { names, ...(replaces ? { replaces: true } : {}), ...(renewal ? { renewal: true } : {}) };
}
