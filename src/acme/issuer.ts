import type { DnsProvider, TxtRecord } from '../dns/provider.js';
import { isWhisperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { WantedCert } from '../plan/types.js';
import type { CertBundle, CertStore } from '../store/types.js';
import type { Http01Solver } from '../http01/solver.js';
import type { PolicyChallenge } from '../policy/types.js';
import type { ChallengeJournal } from './journal.js';
import { createChallengeCleanup, type ChallengeCleanup } from './cleanup.js';
import { loadOrRegisterAccount, type AcmeAccount } from './account.js';
import { sameKey } from '../store/account-key.js';
import type { KeyType } from './keys.js';
import { runOrder, type OrderContext } from './order.js';
import { realSleep, type Sleep } from './poll.js';
import { createAcmeClientFactory } from './transport.js';
import type { AcmeClient, AcmeClientFactory, ExternalAccountBinding, IssueOptions, Issuer } from './types.js';

/** Options of {@link createAcmeIssuer}. */
export interface AcmeIssuerOptions {
  /** ACME directory URL (Let's Encrypt, its staging, ZeroSSL, step-ca, Pebble). */
  directoryUrl: string;
  /** Where the account key (`.acme`) and account URLs live. */
  store: CertStore;
  /** Contact e-mail for a new account (ACME_REGISTER_EMAIL). @default none */
  email?: string;
  /** External Account Binding, for CAs that require it. @default none */
  eab?: ExternalAccountBinding;
  /** Type of each certificate's fresh private key. @default 'ecdsa-p256' */
  keyType?: KeyType;
  /** Publishes and removes the challenge TXT records (an order's `IssueOptions.dns` replaces it for that order). */
  dns: DnsProvider;
  /** Resolves once every record is visible to the CA (the check lives in `dns/`); `dns` is the order's back end. */
  propagate: (records: readonly TxtRecord[], signal?: AbortSignal, dns?: DnsProvider) => Promise<void>;
  /** Where `_acme-challenge.<name>` really lives (CNAME following). @default identity */
  challengeTarget?: (fqdn: string, signal?: AbortSignal) => Promise<string>;
  /** PEM of extra CAs to trust for the ACME server's HTTPS (Pebble's). @default system CAs */
  caBundle?: string;
  /** @default silent */
  log?: Logger;
  /** @default a real timer */
  sleep?: Sleep;
  /** @default () => new Date() */
  now?: () => Date;
  /** First delay between status polls; grows 1.5 times per poll. @default 1000 */
  pollIntervalMs?: number;
  /** Longest delay between status polls. @default 10000 */
  pollMaxIntervalMs?: number;
  /** Give up waiting for authorizations or the order after this long. @default 300000 */
  pollTimeoutMs?: number;
  /** Timeout of one HTTP request to the CA. @default 30000 */
  requestTimeoutMs?: number;
  /** Timeout of removing the TXT records (it runs even after an abort), unless `cleanup` is given. @default 120000 */
  cleanupTimeoutMs?: number;
  /**
   * Removes the records of finished orders. A daemon passes one that works in the background (the order ends
   * once its certificate is there) and flushes it at stop. @default one the order waits for, on `dns` and `journal`
   */
  cleanup?: ChallengeCleanup;
  /**
   * The clean-up of the records of an order whose `IssueOptions.dns` is not `dns` (a named back end). A daemon passes
   * background ones (one per back end) and flushes them at stop. @default one the order waits for, on that back end
   * and `journal`, made once per back end
   */
  cleanupFor?: (dns: DnsProvider) => ChallengeCleanup;
  /**
   * Remembers published challenge records until they are removed, so that a killed run's records
   * can be cleaned up at the next start (see `cleanOrphanChallenges`). @default none
   */
  journal?: ChallengeJournal;
  /** `--challenge`: the challenge of orders without `IssueOptions.challenge`. @default 'dns-01' */
  challenge?: PolicyChallenge;
  /** Presents HTTP-01 tokens (`--http01-listen`'s store or `--http01-webroot`); orders asking http-01 fail without it. @default none */
  http01?: Http01Solver;
  /** `--allow-wildcard`: wildcards may be answered with dns-persist-01 (`policy=wildcard`). @default false */
  allowWildcard?: boolean;
  /** Which DNS-PERSIST-01 records are not in place yet (see `dns/present-check.ts`). @default every one */
  missingRecords?: (records: readonly TxtRecord[], signal?: AbortSignal, dns?: DnsProvider) => Promise<TxtRecord[]>;
  /** Makes ACME clients. @default acme-client, hooked for error mapping (tests pass a fake) */
  clients?: AcmeClientFactory;
}

/**
 * An {@link Issuer} on acme-client's low-level API: the account from the store (registered on
 * first use), one order per {@link Issuer.issue} call (its challenge, DNS back end, key type and pinned key from
 * {@link IssueOptions}, else the issuer's), CA errors mapped to
 * `ACME_RATE_LIMITED` (with `retryAfter`), `ACME_ORDER` (retryable or not), `ACME_BAD_RESPONSE`,
 * `ACME_ACCOUNT`. It never retries a whole order: the issuance queue does.
 */
export function createAcmeIssuer(options: AcmeIssuerOptions): Issuer {
  const log = (options.log ?? silentLogger()).child({ component: 'acme' });
  const now = options.now ?? (() => new Date());
  const clients =
    options.clients ??
    createAcmeClientFactory({
      now,
      ...(options.caBundle === undefined ? {} : { caBundle: options.caBundle }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    });
  const { directoryUrl } = options;
  let account: Promise<AcmeAccount> | undefined;
  let directoryClient: AcmeClient | undefined;
  const cleanup =
    options.cleanup ??
    createChallengeCleanup({
      dns: options.dns,
      log,
      timeoutMs: options.cleanupTimeoutMs ?? 120_000,
      ...(options.journal === undefined ? {} : { journal: options.journal }),
    });

  const otherCleanups = new Map<DnsProvider, ChallengeCleanup>();
  function cleanupOf(dns: DnsProvider): ChallengeCleanup {
    if (dns === options.dns) return cleanup;
    if (options.cleanupFor) return options.cleanupFor(dns);
    let made = otherCleanups.get(dns);
    if (!made) {
      const journal = options.journal === undefined ? {} : { journal: options.journal };
      made = createChallengeCleanup({ dns, log, timeoutMs: options.cleanupTimeoutMs ?? 120_000, ...journal });
      otherCleanups.set(dns, made);
    }
    return made;
  }

  function loadAccount(signal: AbortSignal | undefined, forceLookup = false): Promise<AcmeAccount> {
    if (account === undefined || forceLookup) {
      const loading = loadOrRegisterAccount({
        directoryUrl,
        store: options.store,
        clients,
        log,
        forceLookup,
        ...(options.email === undefined ? {} : { email: options.email }),
        ...(options.eab === undefined ? {} : { eab: options.eab }),
        ...(signal === undefined ? {} : { signal }),
      });
      account = loading;
      // A failed load is not cached: the next call tries again.
      loading.catch(() => {
        if (account === loading) account = undefined;
      });
    }
    return account;
  }

  function orderContext(acct: AcmeAccount, cert: WantedCert, opts: IssueOptions): OrderContext {
    const { signal } = opts;
    const spec = { directoryUrl, accountKey: acct.key, accountUrl: acct.url, what: `certificate ${cert.id}` };
    const dns = opts.dns ?? options.dns;
    const challenge = opts.challenge ?? options.challenge;
    const cleanup = cleanupOf(dns);
    return {
      client: clients({ ...spec, ...(signal === undefined ? {} : { signal }) }),
      cleanupClient: () => clients(spec),
      dns,
      propagate: options.propagate,
      challengeTarget: options.challengeTarget ?? ((fqdn) => Promise.resolve(fqdn)),
      keyType: opts.keyType ?? options.keyType ?? 'ecdsa-p256',
      sleep: options.sleep ?? realSleep,
      now,
      log,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      pollMaxIntervalMs: options.pollMaxIntervalMs ?? 10_000,
      pollTimeoutMs: options.pollTimeoutMs ?? 300_000,
      cleanup,
      // The records go into the journal of the clean-up that removes them (a named back end has its own).
      ...((cleanup.journal ?? options.journal) === undefined ? {} : { journal: cleanup.journal ?? options.journal! }),
      accountUrl: acct.url,
      ...(challenge === undefined ? {} : { challenge }),
      ...(options.http01 === undefined ? {} : { http01: options.http01 }),
      ...(options.allowWildcard === undefined ? {} : { allowWildcard: options.allowWildcard }),
      ...(options.missingRecords === undefined ? {} : { missingRecords: options.missingRecords }),
    };
  }

  /**
   * The account, re-read when the store's key is no longer the one loaded: `whisper-ts account rollover` (or another
   * leader's) replaced it while this process ran. Orders are rare; one read of the key per order is cheap.
   */
  async function currentAccount(signal: AbortSignal | undefined): Promise<AcmeAccount> {
    const acct = await loadAccount(signal);
    const saved = await options.store.readAccount().catch(() => undefined);
    if (saved === undefined || sameKey(saved.key, acct.key)) return acct;
    log.info({ directoryUrl }, 'the ACME account key in the store changed (a key rollover): using the new one');
    account = undefined;
    return loadAccount(signal);
  }

  async function issue(cert: WantedCert, opts: IssueOptions = {}): Promise<CertBundle> {
    const acct = await currentAccount(opts.signal);
    try {
      return await runOrder(orderContext(acct, cert, opts), cert, opts);
    } catch (err) {
      // The CA no longer knows the saved account URL (a CA reset): look it up again, once.
      if (!isWhisperError(err, 'ACME_ACCOUNT')) throw err;
      log.warn({ certId: cert.id, directoryUrl }, 'the CA does not know the saved account; looking it up again');
      const fresh = await loadAccount(opts.signal, true);
      return runOrder(orderContext(fresh, cert, opts), cert, opts);
    }
  }

  return {
    async ensureAccount(signal?: AbortSignal): Promise<void> {
      await loadAccount(signal);
    },
    issue,
    directory(): Promise<Record<string, unknown>> {
      // Reading the directory is unauthenticated: the client never uses the (empty) key for it.
      directoryClient ??= clients({ directoryUrl, accountKey: '', what: 'ACME directory' });
      return directoryClient.directory();
    },
  } satisfies Issuer;
}
