import type { Client } from 'acme-client';
import type { DnsProvider } from '../dns/provider.js';
import type { WantedCert } from '../plan/types.js';
import type { PolicyChallenge } from '../policy/types.js';
import type { KeyType } from './keys.js';
import type { CertBundle } from '../store/types.js';

/** Options of one {@link Issuer.issue} call. */
export interface IssueOptions {
  /** Abort the order; DNS records are cleaned up all the same. */
  signal?: AbortSignal;
  /** ARI (RFC 9773): the certID (`base64url(AKI).base64url(serial)`) of the certificate this order replaces. */
  replaces?: string;
  /** Certificate profile name the CA offers in its directory's `meta.profiles`. @default none */
  profile?: string;
  /**
   * The challenge of this order (the certificate's policy). `http-01` needs the issuer's `http01` solver and no
   * wildcard name; `dns-persist-01` falls back to dns-01 per name where the CA does not offer it.
   * @default the issuer's `challenge` (`--challenge`)
   */
  challenge?: PolicyChallenge;
  /**
   * The DNS back end of this order (a named one of the policy, already wrapped in its `dns/batch.ts` batcher). Its
   * records are removed by the issuer's `cleanupFor(dns)`, and `propagate`/`missingRecords` get it as third argument.
   * @default the issuer's `dns`
   */
  dns?: DnsProvider;
  /** Type of the fresh private key; ignored when `key` is given. @default the issuer's `keyType` */
  keyType?: KeyType;
  /**
   * PEM private key to reuse instead of a fresh one (key pinning): the CSR is signed with it and the bundle returns
   * it. A secret: never logged. A key that does not parse fails the order with `STORE_CORRUPT`. @default a fresh key
   */
  key?: string;
}

/** Orders certificates from one ACME CA, answering DNS-01, DNS-PERSIST-01 or HTTP-01 challenges. */
export interface Issuer {
  /** Load the account key from the store, registering the account when needed. Safe to repeat. */
  ensureAccount(signal?: AbortSignal): Promise<void>;
  /**
   * Run a full order for `cert.names` with a fresh private key (or `opts.key`) and return key, leaf and chain.
   * The leaf's names are checked to equal `cert.names` exactly.
   */
  issue(cert: WantedCert, opts?: IssueOptions): Promise<CertBundle>;
  /** The CA's directory object (for ARI's `renewalInfo` URL and `meta.profiles`). */
  directory?(): Promise<Record<string, unknown>>;
}

/** External Account Binding (ZeroSSL, Google, ...). */
export interface ExternalAccountBinding {
  readonly kid: string;
  /** Base64url HMAC key. A secret: never log it. */
  readonly hmacKey: string;
}

/** The part of acme-client's `Client` the issuer uses, plus the directory. Tests give a fake. */
export type AcmeClient = Pick<
  Client,
  | 'createAccount'
  | 'getAccountUrl'
  | 'createOrder'
  | 'getOrder'
  | 'getAuthorizations'
  | 'getChallengeKeyAuthorization'
  | 'completeChallenge'
  | 'finalizeOrder'
  | 'getCertificate'
  | 'deactivateAuthorization'
> &
  /**
   * Account operations (`account rollover`, `account deactivate`, `revoke`): optional, so that an issuer's client need
   * not have them; the operations refuse a client without the one they need.
   */
  Partial<Pick<Client, 'updateAccount' | 'updateAccountKey' | 'revokeCertificate'>> & {
    /** The directory object (cached by the client). */
    directory(): Promise<Record<string, unknown>>;
  };

/** What a client is made for: one account, one purpose (named in error messages), one signal. */
export interface AcmeClientSpec {
  readonly directoryUrl: string;
  /** Account private key PEM. */
  readonly accountKey: string;
  readonly accountUrl?: string;
  readonly eab?: ExternalAccountBinding;
  /** What the requests are for, in error messages: `certificate www.example.com`, `account`. */
  readonly what: string;
  /** Aborts the requests in flight. */
  readonly signal?: AbortSignal;
}

/** Makes {@link AcmeClient}s; the default is acme-client's, hooked by `transport.ts`. */
export type AcmeClientFactory = (spec: AcmeClientSpec) => AcmeClient;
