/** A PEM bundle as the CA delivered it, plus its fresh private key. */
export interface CertBundle {
  /** PKCS#8 or SEC1 private key, PEM. A secret: never log it. */
  readonly key: string;
  /** The leaf certificate, PEM. */
  readonly cert: string;
  /** The issuer chain (intermediates), PEM, possibly empty. */
  readonly chain: string;
}

/** What we know of a certificate file in the folder. */
export interface StoredCert {
  /** File base name (see `WantedCert.id`). */
  readonly id: string;
  /** Absolute path of the HAProxy PEM file. */
  readonly path: string;
  /** DNS names of the leaf, lowercase, sorted. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Serial number, uppercase hex. */
  readonly serial: string;
  /** Issuer distinguished name, as Node prints it. */
  readonly issuer: string;
  /** The leaf certificate, PEM (for ARI's certID and `replaces`). */
  readonly cert: string;
}

/** The ACME account kept beside the certificates. */
export interface AccountRecord {
  /** PEM private key (the `.acme` file, whisper-compatible). A secret. */
  readonly key: string;
  /** Account URL per directory URL, once registered. */
  readonly urls: Readonly<Record<string, string>>;
}

/** Why an account key is replaced on purpose: a key rollover (`old`) or a deactivated account (`deactivated`). */
export type AccountRotation = 'old' | 'deactivated';

/**
 * Where certificates and the account live. The folder implementation writes whisper's layout;
 * every write is atomic (temporary file, fsync, rename) and key material is mode 0600.
 */
export interface CertStore {
  /** The certificate with this id, or `undefined` when there is none. A corrupt file throws `STORE_CORRUPT`. */
  read(id: string): Promise<StoredCert | undefined>;
  /**
   * Every readable certificate in the store. Unreadable files are reported through `onProblem` and
   * skipped; expired certificates and single-host files whose certificate lacks their own name are
   * reported too, and still listed. Nothing is deleted.
   */
  list(onProblem?: (file: string, err: Error) => void): Promise<StoredCert[]>;
  /** Write (or replace) the certificate `id` atomically. Returns what was stored. */
  write(id: string, bundle: CertBundle): Promise<StoredCert>;
  /**
   * Removes the certificate `id`: its extra formats, then its HAProxy file last (so a failure leaves that file, and
   * the removal is tried again when it is seen again), each with one unlink; files already gone count as removed.
   * Only for a file whisper-ts wrote and that another file now replaces (see `lifecycle/supersede.ts`): `list`
   * never deletes. Throws a retryable `STORE_WRITE` when a file could not be removed.
   */
  remove?(id: string): Promise<void>;
  /**
   * The private key (PEM) of certificate `id`, for a policy that reuses keys on renewal; `undefined` when there is
   * no file or no key in it. A secret: never log it. Optional.
   */
  readKey?(id: string): Promise<string | undefined>;
  /** The ACME account, or `undefined` before the first registration. */
  readAccount(): Promise<AccountRecord | undefined>;
  /** Save the ACME account (key mode 0600). */
  writeAccount(account: AccountRecord): Promise<void>;
  /**
   * Save `account` in place of a different or unreadable account, which is kept aside, never deleted: for a store
   * that caches a shared account (Consul KV under `--ha`). @returns what was kept aside, if anything.
   */
  replaceAccount?(account: AccountRecord): Promise<string | undefined>;
  /**
   * Deliberately replace the account that holds `from`'s key with `to` (an ACME key rollover, or a fresh key after a
   * deactivation), `to`'s URLs exactly as given. The old key and its URLs are kept aside, never deleted, as
   * `<file>.<why>-<time>` (`why`: `old` or `deactivated`). Safe to repeat: a store already holding `to`'s key only
   * takes `to`'s URLs. A store holding neither key refuses with `ACME_ACCOUNT` (someone else changed the account).
   * Unlike {@link replaceAccount}, a key file the user gave (`-a`, `~/.acme`) is replaced too: the operator asked.
   * @returns what was kept aside, if anything.
   */
  rotateAccount?(from: AccountRecord, to: AccountRecord, why: AccountRotation): Promise<string | undefined>;
  /**
   * Throws a retryable `STORE_WRITE` naming the place and the process's user id when a new certificate could not
   * be written there now. Asked before every order, so that nothing is ordered that could not be kept.
   */
  checkWritable?(): Promise<void>;
}
