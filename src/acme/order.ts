import { createPrivateKey } from 'node:crypto';
import type { Authorization, Order } from 'acme-client';
import type { DnsProvider, TxtRecord } from '../dns/provider.js';
import { WhisperError, isWhisperError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { WantedCert } from '../plan/types.js';
import type { Http01Solver } from '../http01/solver.js';
import type { PolicyChallenge } from '../policy/types.js';
import type { CertBundle } from '../store/types.js';
import { chooseChallenge, persistNeeds } from './challenge-choice.js';
import type { ChallengeCleanup } from './cleanup.js';
import type { ChallengeJournal } from './journal.js';
import { createCsr, generateKey, type KeyType } from './keys.js';
import { checkIssued, deactivatePending } from './order-finish.js';
import { challengeToken, checkHttp01Order, presentTokens, removeTokens, type Http01Token } from './order-http01.js';
import { pollUntil, type Sleep } from './poll.js';
import { asProblem, describeProblem, hasProblemType, isRetryableProblem, problemOf } from './problems.js';
import type { AcmeClient, IssueOptions } from './types.js';

type Challenge = Authorization['challenges'][number];

/** Everything one order needs; built by the issuer for each order (with the order's own options resolved). */
export interface OrderContext {
  /** Client whose requests follow the issue's AbortSignal. */
  readonly client: AcmeClient;
  /** Client without the signal, for best-effort clean-up after a failure or an abort. */
  readonly cleanupClient: () => AcmeClient;
  /** The order's DNS back end (its `IssueOptions.dns`, else the issuer's). */
  readonly dns: DnsProvider;
  /** Resolves once the records are visible; `dns` is the back end they were published with. */
  readonly propagate: (records: readonly TxtRecord[], signal?: AbortSignal, dns?: DnsProvider) => Promise<void>;
  readonly challengeTarget: (fqdn: string, signal?: AbortSignal) => Promise<string>;
  readonly keyType: KeyType;
  readonly sleep: Sleep;
  readonly now: () => Date;
  readonly log: Logger;
  readonly pollIntervalMs: number;
  readonly pollMaxIntervalMs: number;
  readonly pollTimeoutMs: number;
  /** Remembers the published records until they are removed (crash safety). @default none */
  readonly journal?: ChallengeJournal;
  /** Removes the records once the order is over (awaited, or in the background) and forgets them in the journal. */
  readonly cleanup: ChallengeCleanup;
  /** The challenge to answer (dns-persist-01 falls back to dns-01 where the CA does not offer it). @default 'dns-01' */
  readonly challenge?: PolicyChallenge;
  /** Presents and removes HTTP-01 tokens; required for `challenge` `http-01`. @default none */
  readonly http01?: Http01Solver;
  /** The account URL, named in DNS-PERSIST-01 records. Required with `challenge` `dns-persist-01`. */
  readonly accountUrl?: string;
  /** `--allow-wildcard`: a wildcard may be answered with dns-persist-01 (`policy=wildcard`). @default false */
  readonly allowWildcard?: boolean;
  /** Which of the persistent records are not in place yet (a DNS query). @default every one */
  readonly missingRecords?: (records: readonly TxtRecord[], signal?: AbortSignal, dns?: DnsProvider) => Promise<TxtRecord[]>;
}

/**
 * One ACME order for `cert.names`, answered with DNS-01, DNS-PERSIST-01 or HTTP-01 (see `ctx.challenge`): create the
 * order, publish every TXT record at once (persistent ones only when not yet in place) and wait for propagation, or
 * present every HTTP-01 token, answer the challenges, wait for the authorizations, finalize with a CSR of a fresh
 * key (or `opts.key`), download and check the certificate. In `finally`, whatever happens, the HTTP-01 tokens are
 * removed (awaited) and the TXT records handed to `ctx.cleanup` (in a daemon they are removed in the background,
 * together with other orders' records); after a failure the still-pending authorizations are deactivated
 * (best effort).
 */
export async function runOrder(ctx: OrderContext, cert: WantedCert, opts: IssueOptions = {}): Promise<CertBundle> {
  const { client, log } = ctx;
  const { signal } = opts;
  const what = `certificate ${cert.id}`;
  const names = [...new Set(cert.names.map((n) => n.toLowerCase()))].sort();
  if (names.length === 0) throw new WhisperError('ACME_ORDER', `${what}: no names to order`);
  const wanted = ctx.challenge ?? 'dns-01';
  // Before anything reaches the CA: a wildcard or a missing solver fails at once, not after an order.
  const http01 = wanted === 'http-01' ? checkHttp01Order(what, names, ctx.http01) : undefined;
  const pinned = opts.key === undefined ? undefined : checkKey(what, opts.key);

  const step = async <T>(name: string, fn: () => Promise<T>, fallback: ErrorCode = 'ACME_BAD_RESPONSE'): Promise<T> => {
    if (signal?.aborted) throw new WhisperError('ABORTED', `${what}: aborted before ${name}`, { cause: signal.reason });
    log.debug({ certId: cert.id, step: name }, 'ACME step');
    try {
      return await fn();
    } catch (err) {
      throw asWhisperError(err, `${what}: ${name}`, fallback, signal);
    }
  };
  const poll = {
    sleep: ctx.sleep,
    now: ctx.now,
    intervalMs: ctx.pollIntervalMs,
    maxIntervalMs: ctx.pollMaxIntervalMs,
    timeoutMs: ctx.pollTimeoutMs,
    ...(signal ? { signal } : {}),
  };

  const records: TxtRecord[] = [];
  const tokens: Http01Token[] = [];
  let presenting = false;
  let order: Order | undefined;
  let done = false;
  try {
    const payload = {
      identifiers: names.map((value) => ({ type: 'dns', value })),
      ...(opts.replaces ? { replaces: opts.replaces } : {}),
      ...(opts.profile ? { profile: opts.profile } : {}),
    };
    const created = await step('createOrder', () => client.createOrder(payload)).catch((err: unknown) => {
      throw opts.replaces ? markReplaces(err, opts.replaces) : err;
    });
    order = created;
    if (created.status === 'invalid') throw orderFailure(what, 'the new order is invalid', created.error);

    const authzs = await step('getAuthorizations', () => client.getAuthorizations(created));
    const challenges: Challenge[] = [];
    const persisted: { identifier: string; wildcard: boolean; issuerDomainName: string }[] = [];
    const fallbacks: string[] = [];
    for (const authz of authzs) {
      if (authz.status === 'valid') continue;
      if (authz.status !== 'pending') {
        throw orderFailure(what, `authorization for ${authz.identifier.value} is ${authz.status}`, undefined, true);
      }
      const choice = chooseChallenge(authz, wanted, ctx.allowWildcard === true);
      if (choice.type === 'none') {
        const type = wanted === 'http-01' ? 'http-01' : 'dns-01';
        throw new WhisperError('ACME_ORDER', `${what}: the CA offers no ${type} challenge for ${authz.identifier.value}`);
      }
      if (choice.type === 'http-01') {
        const { challenge } = choice;
        const token = challengeToken(what, challenge);
        const keyAuthorization = await step('getChallengeKeyAuthorization', () => client.getChallengeKeyAuthorization(challenge));
        tokens.push({ token, keyAuthorization });
        challenges.push(challenge);
        continue;
      }
      const name = authz.identifier.value.replace(/^\*\./, '');
      if (choice.type === 'dns-persist-01') {
        persisted.push({ identifier: name, wildcard: authz.wildcard === true || authz.identifier.value.startsWith('*.'), issuerDomainName: choice.issuerDomainName });
        challenges.push(choice.challenge);
        continue;
      }
      if (choice.fallback) fallbacks.push(`${authz.identifier.value} (${choice.fallback})`);
      const { challenge } = choice;
      const value = await step('getChallengeKeyAuthorization', () => client.getChallengeKeyAuthorization(challenge));
      const fqdn = await step('challengeTarget', () => ctx.challengeTarget(`_acme-challenge.${name}`, signal), 'DNS_PROVIDER');
      records.push({ fqdn: fqdn.toLowerCase().replace(/\.$/, ''), value });
      challenges.push(challenge);
    }
    // One line per order, not per name: the CA decides per authorization, the operator wants to know it happened.
    if (fallbacks.length > 0) log.info({ certId: cert.id, names: fallbacks }, 'dns-persist-01 not usable; answering dns-01');
    const persistent = await persistentRecords(ctx, persisted, signal, step);

    if (challenges.length > 0) {
      // Journaled before publishing: a run killed from here on leaves records the next start removes. Persistent
      // records are not: they are meant to stay.
      const { journal } = ctx;
      if (journal && records.length > 0) await step('journal.add', () => journal.add(records), 'STORE_WRITE');
      presenting = records.length > 0;
      // Both kinds in one call: new persistent names share the change (and its wait) with challenge records.
      const publish = [...records, ...persistent];
      if (publish.length > 0) {
        await step(`dns.present(${publish.length} records)`, () => ctx.dns.present(publish, signal), 'DNS_PROVIDER');
        await step('propagate', () => ctx.propagate(publish, signal, ctx.dns), 'DNS_PROPAGATION_TIMEOUT');
      }
      if (http01 && tokens.length > 0) await step(`http01.present(${tokens.length} tokens)`, () => presentTokens(http01, tokens, signal), 'HTTP01');
      for (const challenge of challenges) await step('completeChallenge', () => client.completeChallenge(challenge));
      await step('waitForValidStatus(authorizations)', () =>
        pollUntil(() => client.getAuthorizations(created), (list) => allValid(what, list), {
          ...poll,
          timeout: () => stillPending(what, 'authorizations', ctx.pollTimeoutMs),
        }),
      );
    }

    const ready = await step('waitForValidStatus(order ready)', () =>
      pollUntil(() => client.getOrder(created), (o) => orderIs(what, o, 'ready'), {
        ...poll,
        timeout: () => stillPending(what, 'order', ctx.pollTimeoutMs),
      }),
    );
    const key = pinned ?? (await step('generateKey', () => generateKey(ctx.keyType), 'INTERNAL'));
    const csr = await step('createCsr', () => createCsr(names, key), 'INTERNAL');
    const finalized = await step('finalizeOrder', () => client.finalizeOrder(ready, csr));
    const valid = await step('waitForValidStatus(order valid)', () =>
      pollUntil(() => client.getOrder(finalized), (o) => orderIs(what, o, 'valid'), {
        ...poll,
        timeout: () => stillPending(what, 'order', ctx.pollTimeoutMs),
      }),
    );
    const pem = await step('getCertificate', () => client.getCertificate(valid));
    const bundle = await step('checkCertificate', async () => checkIssued(what, pem, key, names));
    done = true;
    log.debug({ certId: cert.id, step: 'done' }, 'ACME order complete');
    return bundle;
  } finally {
    if (http01) await removeTokens(http01, tokens, log, cert.id);
    // Not the order's signal: an aborted order must still remove its records (the clean-up has a timeout of its own).
    if (presenting) await ctx.cleanup.remove(cert.id, records);
    if (!done && order !== undefined) await deactivatePending(ctx, cert.id, order);
  }
}

/**
 * The DNS-PERSIST-01 records the order needs that are not yet in place (checked on the authoritative servers):
 * usually none, as they stay from the first order of each name on.
 */
async function persistentRecords(
  ctx: OrderContext,
  persisted: Parameters<typeof persistNeeds>[0],
  signal: AbortSignal | undefined,
  step: <T>(name: string, fn: () => Promise<T>, fallback?: ErrorCode) => Promise<T>,
): Promise<TxtRecord[]> {
  if (persisted.length === 0) return [];
  const { accountUrl } = ctx;
  if (!accountUrl) throw new WhisperError('INTERNAL', 'dns-persist-01 needs the account URL');
  const wanted: TxtRecord[] = [];
  for (const need of persistNeeds(persisted, accountUrl)) {
    const fqdn = await step('challengeTarget', () => ctx.challengeTarget(need.fqdn, signal), 'DNS_PROVIDER');
    wanted.push({ fqdn: fqdn.toLowerCase().replace(/\.$/, ''), value: need.value, persistent: true });
  }
  const check = ctx.missingRecords;
  return check ? step('missingRecords', () => check(wanted, signal, ctx.dns), 'DNS_PROVIDER') : wanted;
}

/** The pinned key (`IssueOptions.key`), when it parses as a private key. */
function checkKey(what: string, pem: string): string {
  try {
    createPrivateKey(pem);
  } catch (err) {
    // The key itself stays out of the message.
    throw new WhisperError('STORE_CORRUPT', `${what}: the private key to reuse does not parse`, { cause: err });
  }
  return pem;
}

function asWhisperError(err: unknown, context: string, fallback: ErrorCode, signal: AbortSignal | undefined): WhisperError {
  if (isWhisperError(err)) return err;
  if (signal?.aborted) return new WhisperError('ABORTED', `${context}: aborted`, { cause: err });
  const retryable = fallback === 'DNS_PROVIDER' || fallback === 'DNS_PROPAGATION_TIMEOUT' || fallback === 'HTTP01';
  return new WhisperError(fallback, `${context} failed: ${(err as Error)?.message ?? String(err)}`, { retryable, cause: err });
}

/**
 * A CA problem answering a new-order that carried `replaces` (other than a rate limit): the CA may refuse the
 * `replaces` itself with any problem, even a 500 (Pebble for a serial with its high bit set), so the caller may
 * order again without it.
 */
function markReplaces(err: unknown, replaces: string): unknown {
  if (!isWhisperError(err) || err.code === 'ACME_RATE_LIMITED' || problemOf(err) === undefined) return err;
  if (hasProblemType(err, 'rateLimited')) return err;
  return new WhisperError(err.code, err.message, {
    retryable: err.retryable,
    cause: err.cause,
    refusedReplaces: replaces,
    ...(err.retryAfter ? { retryAfter: err.retryAfter } : {}),
    ...(err.identifier ? { identifier: err.identifier } : {}),
  });
}

function orderFailure(what: string, message: string, error: unknown, retryable = false, identifier?: string): WhisperError {
  const problem = asProblem(error);
  const text = problem ? `${message}: ${describeProblem(problem)}` : message;
  return new WhisperError('ACME_ORDER', `${what}: ${text}`, {
    retryable: retryable || (problem !== undefined && isRetryableProblem(problem.type)),
    ...(problem ? { cause: problem } : {}),
    ...(identifier ? { identifier } : {}),
  });
}

function stillPending(what: string, thing: string, timeoutMs: number): WhisperError {
  return new WhisperError('ACME_ORDER', `${what}: the ${thing} did not become valid within ${Math.round(timeoutMs / 1000)} s`, {
    retryable: true,
  });
}

// Every authorization valid: done; one invalid: fail with its challenge's problem.
function allValid(what: string, authzs: readonly Authorization[]): boolean {
  for (const authz of authzs) {
    if (authz.status === 'valid' || authz.status === 'pending') continue;
    const failed =
      authz.challenges.find((c) => ['dns-01', 'dns-persist-01', 'http-01'].includes(c.type) && c.error !== undefined) ??
      authz.challenges.find((c) => c.error !== undefined);
    // Validation failed: the CA counts it against this identifier (and this account) only.
    throw orderFailure(what, `authorization for ${authz.identifier.value} is ${authz.status}`, failed?.error, false, authz.identifier.value);
  }
  return authzs.every((a) => a.status === 'valid');
}

function orderIs(what: string, order: Order, wanted: 'ready' | 'valid'): boolean {
  if (order.status === 'invalid') throw orderFailure(what, 'the order became invalid', order.error);
  if (wanted === 'ready' && order.status === 'valid') {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the order is already finalized with another key`);
  }
  return order.status === wanted;
}
