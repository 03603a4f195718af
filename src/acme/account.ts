import { WhisperError, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CertStore } from '../store/types.js';
import { generateKey } from './keys.js';
import type { AcmeClientFactory, ExternalAccountBinding } from './types.js';

/** A usable ACME account: its key and its URL at one directory. */
export interface AcmeAccount {
  /** Account private key PEM. A secret. */
  readonly key: string;
  readonly url: string;
}

/** Options of {@link loadOrRegisterAccount}. */
export interface AccountOptions {
  readonly directoryUrl: string;
  readonly store: CertStore;
  /** Contact e-mail (ACME_REGISTER_EMAIL); needed only to create a new account key. */
  readonly email?: string;
  readonly eab?: ExternalAccountBinding;
  readonly clients: AcmeClientFactory;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Ignore a saved account URL for this directory (the CA said it does not know it). @default false */
  readonly forceLookup?: boolean;
}

/**
 * The account of `directoryUrl`: the key from the store (`.acme`), its URL for that directory
 * from the store, or else registered (`termsOfServiceAgreed`, `mailto:` contact, optional EAB)
 * and saved. A new key is ECDSA P-256 and is saved before registering, so a crash in between
 * finds the same account again; the account read back after that save is the one used (a shared store keeps the
 * first account saved). Without a key and without an e-mail: `ACME_ACCOUNT`.
 */
export async function loadOrRegisterAccount(options: AccountOptions): Promise<AcmeAccount> {
  const { directoryUrl, store, email, log } = options;
  const saved = await store.readAccount();
  const known = saved?.urls[directoryUrl];
  if (saved !== undefined && known !== undefined && !options.forceLookup) return { key: saved.key, url: known };

  let record = saved;
  if (record === undefined) {
    if (email === undefined || email.trim() === '') {
      throw new WhisperError(
        'ACME_ACCOUNT',
        'no ACME account key (.acme) in the certificate folder: set ACME_REGISTER_EMAIL to register a new account',
      );
    }
    log.info({ directoryUrl }, 'creating a new ACME account key');
    record = { key: await generateKey('ecdsa-p256'), urls: {} };
    await store.writeAccount(record);
    // A shared store (Consul KV under --ha) keeps the account saved first: another instance's may have won.
    record = (await store.readAccount()) ?? record;
    const url = record.urls[directoryUrl];
    if (url !== undefined) return { key: record.key, url };
  }

  const client = options.clients({
    directoryUrl,
    accountKey: record.key,
    what: 'ACME account',
    ...(options.eab ? { eab: options.eab } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const contact = email ? [`mailto:${email.trim()}`] : undefined;
  try {
    await client.createAccount({ termsOfServiceAgreed: true, ...(contact ? { contact } : {}) });
  } catch (err) {
    throw registrationError(err, directoryUrl);
  }
  const url = client.getAccountUrl();
  await store.writeAccount({ key: record.key, urls: { ...record.urls, [directoryUrl]: url } });
  log.info({ directoryUrl, accountUrl: url }, 'ACME account ready');
  return { key: record.key, url };
}

// A refusal of the registration itself is an account problem; transport errors, rate limits
// and aborts keep their code.
function registrationError(err: unknown, directoryUrl: string): unknown {
  if (isWhisperError(err, 'ACME_ORDER') && !err.retryable) {
    return new WhisperError('ACME_ACCOUNT', `registering the ACME account at ${directoryUrl} failed: ${err.message}`, {
      cause: err.cause ?? err,
    });
  }
  if (isWhisperError(err)) return err;
  return new WhisperError('ACME_BAD_RESPONSE', `registering the ACME account at ${directoryUrl} failed: ${(err as Error).message}`, {
    cause: err,
  });
}
