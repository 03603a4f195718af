import { WhisperError, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { sameKey } from '../store/account-key.js';
import type { CertStore } from '../store/types.js';
import { generateKey } from './keys.js';
import { hasProblemType } from './problems.js';
import type { AcmeClient, AcmeClientFactory, ExternalAccountBinding } from './types.js';

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
  /** Contact e-mail (ACME_REGISTER_EMAIL); needed only to register a new account. */
  readonly email?: string;
  readonly eab?: ExternalAccountBinding;
  readonly clients: AcmeClientFactory;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Ignore a saved account URL for this directory (the CA said it does not know it). @default false */
  readonly forceLookup?: boolean;
}

const NEEDS_EMAIL = 'set ACME_REGISTER_EMAIL (or --email) to register one';

/**
 * The account of `directoryUrl`: the key from the store (wherever the store finds it: `-a`, `.acme`, `~/.acme`), its
 * URL for that directory from the store, or else found at the CA and saved. An existing key without a URL is looked up
 * first (`newAccount` with `onlyReturnExisting`, RFC 8555 section 7.3.1) and registered only when the CA answers
 * `accountDoesNotExist`: a key whisper registered years ago keeps its account. A new key (ECDSA P-256) is registered
 * directly; it is saved before registering, so a crash in between finds the same account again, and the account read
 * back after that save is the one used (a shared store keeps the first account saved). Registering needs the e-mail
 * (`termsOfServiceAgreed`, `mailto:` contact, optional EAB); without it: `ACME_ACCOUNT`.
 */
export async function loadOrRegisterAccount(options: AccountOptions): Promise<AcmeAccount> {
  const { directoryUrl, store, log } = options;
  const email = options.email?.trim() || undefined;
  const saved = await store.readAccount();
  const known = saved?.urls[directoryUrl];
  if (saved !== undefined && known !== undefined && !options.forceLookup) return { key: saved.key, url: known };

  let record = saved;
  let fresh = false;
  if (record === undefined) {
    if (email === undefined) throw new WhisperError('ACME_ACCOUNT', `no ACME account key (.acme in the certificate folder, ~/.acme or -a): ${NEEDS_EMAIL}`);
    log.info({ directoryUrl }, 'creating a new ACME account key');
    const key = await generateKey('ecdsa-p256');
    await store.writeAccount({ key, urls: {} });
    // A shared store (Consul KV under --ha) keeps the account saved first: another instance's may have won.
    record = (await store.readAccount()) ?? { key, urls: {} };
    const url = record.urls[directoryUrl];
    if (url !== undefined) return { key: record.key, url };
    fresh = sameKey(record.key, key);
  }

  const client = options.clients({
    directoryUrl,
    accountKey: record.key,
    what: 'ACME account',
    ...(options.eab ? { eab: options.eab } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const url = fresh ? await register(client, email, directoryUrl) : await lookUpOrRegister(client, email, directoryUrl, log);
  await store.writeAccount({ key: record.key, urls: { ...record.urls, [directoryUrl]: url } });
  log.info({ directoryUrl, accountUrl: url }, 'ACME account ready');
  return { key: record.key, url };
}

/** The existing account of the client's key; registered only when the CA has none (`accountDoesNotExist`). */
async function lookUpOrRegister(client: AcmeClient, email: string | undefined, directoryUrl: string, log: Logger): Promise<string> {
  try {
    await client.createAccount({ onlyReturnExisting: true });
    log.info({ directoryUrl }, 'the CA knows the ACME account key: its account is used');
    return client.getAccountUrl();
  } catch (err) {
    if (!hasProblemType(err, 'accountDoesNotExist')) throw registrationError(err, directoryUrl);
  }
  if (email === undefined) {
    throw new WhisperError('ACME_ACCOUNT', `the CA at ${directoryUrl} has no account for the ACME account key in use: ${NEEDS_EMAIL}`);
  }
  log.info({ directoryUrl }, 'the CA has no account for the ACME account key: registering it');
  return register(client, email, directoryUrl);
}

async function register(client: AcmeClient, email: string | undefined, directoryUrl: string): Promise<string> {
  try {
    await client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) });
  } catch (err) {
    throw registrationError(err, directoryUrl);
  }
  return client.getAccountUrl();
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
