import type { Authorization } from 'acme-client';

/** The challenge types whisper-ts can answer (`--challenge`; http-01 needs `--http01-listen` or `--http01-webroot`). */
export const CHALLENGE_TYPES = ['dns-01', 'dns-persist-01', 'http-01'] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];

/** A challenge object as the CA sent it: acme-client's types know only http-01 and dns-01. */
type AnyChallenge = Authorization['challenges'][number];

/** The prefix of DNS-PERSIST-01 records: the CA looks at exactly `_validation-persist.<name>`. */
export const PERSIST_PREFIX = '_validation-persist';

/** What one pending authorization is answered with. */
export type ChallengeChoice =
  | { readonly type: 'dns-01'; readonly challenge: AnyChallenge; /** Wanted dns-persist-01, fell back: why. */ readonly fallback?: string }
  | { readonly type: 'dns-persist-01'; readonly challenge: AnyChallenge; readonly issuerDomainName: string }
  | { readonly type: 'http-01'; readonly challenge: AnyChallenge }
  | { readonly type: 'none' };

/**
 * Picks the challenge of one authorization. With `wanted` `http-01`: that challenge or none (never a DNS one: the
 * order has no DNS back end to fall back on; a wildcard is never offered http-01). With `wanted` `dns-persist-01`: that challenge when the CA offers it with
 * an issuer domain name (and, for a wildcard, when wildcards are allowed: the record must then say
 * `policy=wildcard`); otherwise dns-01, with the reason in `fallback`. Types it does not know are ignored.
 */
export function chooseChallenge(
  authz: Pick<Authorization, 'identifier' | 'challenges' | 'wildcard'>,
  wanted: ChallengeType,
  allowWildcard: boolean,
): ChallengeChoice {
  const challenges: readonly AnyChallenge[] = Array.isArray(authz.challenges) ? authz.challenges : [];
  const dns01 = challenges.find((c) => c.type === 'dns-01');
  const asDns01 = (fallback?: string): ChallengeChoice =>
    dns01 === undefined ? { type: 'none' } : { type: 'dns-01', challenge: dns01, ...(fallback ? { fallback } : {}) };
  if (wanted === 'dns-01') return asDns01();
  if (wanted === 'http-01') {
    const http01 = challenges.find((c) => c.type === 'http-01');
    return http01 === undefined || isWildcard(authz) ? { type: 'none' } : { type: 'http-01', challenge: http01 };
  }

  // acme-client's types list http-01 and dns-01 only; the CA sends more.
  const persist = challenges.find((c) => (c.type as string) === 'dns-persist-01');
  if (persist === undefined) return asDns01('the CA does not offer dns-persist-01');
  const issuer = issuerDomainNames(persist)[0];
  if (issuer === undefined) return asDns01('the dns-persist-01 challenge names no issuer-domain-names');
  if (isWildcard(authz) && !allowWildcard) return asDns01('a wildcard needs --allow-wildcard for policy=wildcard');
  return { type: 'dns-persist-01', challenge: persist, issuerDomainName: issuer };
}

/** The challenge's `issuer-domain-names`, the well-formed ones (lowercase, no trailing dot). */
export function issuerDomainNames(challenge: object): string[] {
  const raw = (challenge as { 'issuer-domain-names'?: unknown })['issuer-domain-names'];
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((n): n is string => typeof n === 'string' && /^[A-Za-z0-9.-]{1,253}$/.test(n))
    .map((n) => n.toLowerCase().replace(/\.$/, ''))
    .filter((n) => n !== '');
}

/** A wildcard authorization (`*.<name>`, or flagged `wildcard`). */
export function isWildcard(authz: Pick<Authorization, 'identifier' | 'wildcard'>): boolean {
  return authz.wildcard === true || authz.identifier.value.startsWith('*.');
}

/** `_validation-persist.<name>` for an identifier (a wildcard's record is its base name's). */
export function persistRecordName(identifier: string): string {
  return `${PERSIST_PREFIX}.${identifier.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '')}`;
}

/**
 * The record's value: `<issuer-domain-name>; accounturi=<account URL>`, plus `; policy=wildcard` when it must cover
 * the wildcard (which also covers the base name and every subdomain: only asked for a wildcard certificate).
 */
export function persistRecordValue(issuerDomainName: string, accountUrl: string, wildcard: boolean): string {
  return `${issuerDomainName}; accounturi=${accountUrl}${wildcard ? '; policy=wildcard' : ''}`;
}

/** One persistent record an order needs. */
export interface PersistNeed {
  /** `_validation-persist.<name>` (before CNAME following). */
  readonly fqdn: string;
  readonly value: string;
}

/**
 * The records for the persist-answered identifiers of one order, one per record name: an apex and its wildcard
 * share `_validation-persist.<apex>`, and the wildcard value covers both, so it wins.
 */
export function persistNeeds(
  items: readonly { readonly identifier: string; readonly wildcard: boolean; readonly issuerDomainName: string }[],
  accountUrl: string,
): PersistNeed[] {
  const byName = new Map<string, { issuer: string; wildcard: boolean }>();
  for (const item of items) {
    const fqdn = persistRecordName(item.identifier);
    const seen = byName.get(fqdn);
    if (seen === undefined || (item.wildcard && !seen.wildcard)) byName.set(fqdn, { issuer: item.issuerDomainName, wildcard: item.wildcard });
  }
  return [...byName].map(([fqdn, { issuer, wildcard }]) => ({ fqdn, value: persistRecordValue(issuer, accountUrl, wildcard) }));
}
