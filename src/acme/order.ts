import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Authorization, Order } from 'acme-client';
import type { DnsProvider, TxtRecord } from '../dns/provider.js';
import { WhisperError, isWhisperError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { WantedCert } from '../plan/types.js';
import { dnsNames, pemCertificates } from '../store/pem.js';
import type { CertBundle } from '../store/types.js';
import { chooseChallenge, persistNeeds, type ChallengeType } from './challenge-choice.js';
import type { ChallengeCleanup } from './cleanup.js';
import type { ChallengeJournal } from './journal.js';
import { createCsr, generateKey, type KeyType } from './keys.js';
import { pollUntil, type Sleep } from './poll.js';
import { asProblem, describeProblem, isRetryableProblem } from './problems.js';
import type { AcmeClient, IssueOptions } from './types.js';

type Challenge = Authorization['challenges'][number];

/** Everything one order needs; built by the issuer. */
export interface OrderContext {
  /** Client whose requests follow the issue's AbortSignal. */
  readonly client: AcmeClient;
  /** Client without the signal, for best-effort clean-up after a failure or an abort. */
  readonly cleanupClient: () => AcmeClient;
  readonly dns: DnsProvider;
  readonly propagate: (records: readonly TxtRecord[], signal?: AbortSignal) => Promise<void>;
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
  /** `--challenge`: the challenge to answer when the CA offers it (dns-persist-01 falls back to dns-01). @default 'dns-01' */
  readonly challenge?: ChallengeType;
  /** The account URL, named in DNS-PERSIST-01 records. Required with `challenge` `dns-persist-01`. */
  readonly accountUrl?: string;
  /** `--allow-wildcard`: a wildcard may be answered with dns-persist-01 (`policy=wildcard`). @default false */
  readonly allowWildcard?: boolean;
  /** Which of the persistent records are not in place yet (a DNS query). @default every one */
  readonly missingRecords?: (records: readonly TxtRecord[], signal?: AbortSignal) => Promise<TxtRecord[]>;
}

/**
 * One ACME order for `cert.names`, answered with DNS-01 (or DNS-PERSIST-01, see `ctx.challenge`): create the order,
 * publish every TXT record at once (persistent ones only when not yet in place), wait for propagation, answer the challenges, wait for the authorizations,
 * finalize with a CSR of a fresh key, download and check the certificate. The TXT records are
 * handed to `ctx.cleanup` in `finally`, whatever happens (in a daemon they are removed in the background,
 * together with other orders' records); after a failure the still-pending authorizations are deactivated
 * (best effort).
 */
export async function runOrder(ctx: OrderContext, cert: WantedCert, opts: IssueOptions = {}): Promise<CertBundle> {
  const { client, log } = ctx;
  const { signal } = opts;
  const what = `certificate ${cert.id}`;
  const names = [...new Set(cert.names.map((n) => n.toLowerCase()))].sort();
  if (names.length === 0) throw new WhisperError('ACME_ORDER', `${what}: no names to order`);

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
  let presenting = false;
  let order: Order | undefined;
  let done = false;
  try {
    const payload = {
      identifiers: names.map((value) => ({ type: 'dns', value })),
      ...(opts.replaces ? { replaces: opts.replaces } : {}),
      ...(opts.profile ? { profile: opts.profile } : {}),
    };
    const created = await step('createOrder', () => client.createOrder(payload));
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
      const choice = chooseChallenge(authz, ctx.challenge ?? 'dns-01', ctx.allowWildcard === true);
      if (choice.type === 'none') {
        throw new WhisperError('ACME_ORDER', `${what}: the CA offers no dns-01 challenge for ${authz.identifier.value}`);
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
        await step('propagate', () => ctx.propagate(publish, signal), 'DNS_PROPAGATION_TIMEOUT');
      }
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
    const key = await step('generateKey', () => generateKey(ctx.keyType), 'INTERNAL');
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
  return check ? step('missingRecords', () => check(wanted, signal), 'DNS_PROVIDER') : wanted;
}

function asWhisperError(err: unknown, context: string, fallback: ErrorCode, signal: AbortSignal | undefined): WhisperError {
  if (isWhisperError(err)) return err;
  if (signal?.aborted) return new WhisperError('ABORTED', `${context}: aborted`, { cause: err });
  const retryable = fallback === 'DNS_PROVIDER' || fallback === 'DNS_PROPAGATION_TIMEOUT';
  return new WhisperError(fallback, `${context} failed: ${(err as Error)?.message ?? String(err)}`, { retryable, cause: err });
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
      authz.challenges.find((c) => (c.type === 'dns-01' || (c.type as string) === 'dns-persist-01') && c.error !== undefined) ??
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

function checkIssued(what: string, pem: string, key: string, names: readonly string[]): CertBundle {
  // A text split, not acme-client's splitPemChain: that one decodes and re-encodes every certificate through asn1js.
  const [leaf, ...chain] = pemCertificates(pem);
  if (leaf === undefined) throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA sent no certificate`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(leaf);
  } catch (err) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA sent a certificate that does not parse`, { cause: err });
  }
  const got = dnsNames(x509);
  if (got.length !== names.length || got.some((n, i) => n !== names[i])) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA issued names [${got.join(', ')}] instead of [${names.join(', ')}]`);
  }
  if (!x509.checkPrivateKey(createPrivateKey(key))) {
    throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the issued certificate is not for our key`);
  }
  const withNl = (p: string): string => `${p.trim()}\n`;
  return { key, cert: withNl(leaf), chain: chain.map(withNl).join('') };
}

async function deactivatePending(ctx: OrderContext, certId: string, order: Order): Promise<void> {
  try {
    const client = ctx.cleanupClient();
    const authzs = await client.getAuthorizations(order);
    for (const authz of authzs.filter((a) => a.status === 'pending')) {
      ctx.log.debug({ certId, step: 'deactivateAuthorization', name: authz.identifier.value }, 'ACME step');
      await client.deactivateAuthorization(authz);
    }
  } catch (err) {
    ctx.log.debug({ certId, err: (err as Error)?.message }, 'could not deactivate pending authorizations');
  }
}
