import { WhisperError, errorMessage } from '../errors.js';
import type { AccountView } from '../ops/types.js';
import { keyThumbprint } from '../store/account-key.js';
import { loadOrRegisterAccount } from './account.js';
import { describeKey, finishPendingRollover, noAccount, rotateStoreAccount, type AccountOpsOptions } from './account-pending.js';
import { generateKey } from './keys.js';
import { hasProblemType, problemOf } from './problems.js';

export { finishPendingRollover, type AccountOpsOptions, type PendingOutcome } from './account-pending.js';
export { rolloverAccountKey, type RolloverOptions, type RolloverResult } from './account-rollover.js';

/** Whether the CA refused a request because the account is deactivated (RFC 8555 section 7.3.6: `unauthorized`). */
function isDeactivated(err: unknown): boolean {
  return hasProblemType(err, 'unauthorized') && /deactivated/i.test(problemOf(err)?.detail ?? '');
}

/**
 * The account of `directoryUrl` as `account show` prints it: its URL, key thumbprint and type from the store, and its
 * status and contact from the CA (a POST-as-GET of the account, or a `newAccount` with `onlyReturnExisting` when no
 * URL is saved). A CA that cannot be asked only leaves `status` out (a warning says why). A pending key of an
 * interrupted rollover is resolved first when the CA answers. Without any account key: `ACME_ACCOUNT`.
 */
export async function showAccount(o: AccountOpsOptions): Promise<AccountView> {
  const { directoryUrl, log } = o;
  await finishPendingRollover(o).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'cannot resolve the pending ACME account key now'));
  const record = await o.store.readAccount();
  if (record === undefined) throw noAccount(o.folder);
  const saved = record.urls[directoryUrl];
  const client = o.clients({
    directoryUrl,
    accountKey: record.key,
    ...(saved === undefined ? {} : { accountUrl: saved }),
    what: 'ACME account',
    ...(o.signal ? { signal: o.signal } : {}),
  });
  let fromCa: { url?: string; status?: string; contact?: readonly string[] } = {};
  try {
    // With a saved URL acme-client sends a POST-as-GET of the account; without, the lookup by key.
    const answer = (await client.createAccount({ onlyReturnExisting: true })) as { status?: unknown; contact?: unknown };
    fromCa = {
      url: client.getAccountUrl(),
      ...(typeof answer.status === 'string' ? { status: answer.status } : {}),
      ...(Array.isArray(answer.contact) ? { contact: answer.contact.filter((c): c is string => typeof c === 'string') } : {}),
    };
  } catch (err) {
    if (isDeactivated(err)) fromCa = { status: 'deactivated' };
    else if (!hasProblemType(err, 'accountDoesNotExist')) log.warn({ directoryUrl, err: errorMessage(err) }, 'cannot ask the CA about the ACME account');
  }
  const url = fromCa.url ?? saved;
  const others = Object.fromEntries(Object.entries(record.urls).filter(([dir]) => dir !== directoryUrl));
  const thumbprint = keyThumbprint(record.key);
  return {
    directoryUrl,
    ...(url === undefined ? {} : { url }),
    ...(thumbprint === undefined ? {} : { thumbprint }),
    keyType: describeKey(record.key).name,
    ...(fromCa.status === undefined ? {} : { status: fromCa.status }),
    ...(fromCa.contact === undefined ? {} : { contact: fromCa.contact }),
    urls: others,
  };
}

/** Options of {@link deactivateAccount}. */
export interface DeactivateOptions extends AccountOpsOptions {
  /** Must be `true` (`--yes`): a deactivation cannot be undone. @default false: refused */
  readonly confirm?: boolean;
}

/** What a deactivation did. */
export interface DeactivateResult {
  /** The account deactivated. */
  readonly url: string;
  /** Base name of the deactivated key file kept aside in the folder (`.acme.deactivated-<time>`), if the folder held it. */
  readonly keptAs?: string;
  /** Thumbprint of the fresh, not yet registered, key that replaces it. */
  readonly thumbprint: string;
}

/**
 * Deactivates `directoryUrl`'s account at the CA (RFC 8555 section 7.3.6; it cannot be undone), then retires its key
 * so nothing keeps ordering with it: the store's account becomes a fresh key of the same type with no URL
 * (`CertStore.rotateAccount`, under `--ha` in Consul KV too), and the old key and its URLs are kept aside as
 * `.acme.deactivated-<time>` and `.acme.json.deactivated-<time>`, never deleted. The next start then registers a new
 * account with the fresh key (which needs the e-mail, as a first start does). The old key's accounts at other CAs
 * are left alone at those CAs; their URLs go aside with it. An account the CA already reports deactivated (a crash
 * after the CA's answer) only has its key retired: safe to repeat. Refused (`CONFIG_INVALID`) without `confirm`.
 */
export async function deactivateAccount(o: DeactivateOptions): Promise<DeactivateResult> {
  const { directoryUrl, store, log } = o;
  if (o.confirm !== true) {
    throw new WhisperError('CONFIG_INVALID', `deactivating the ACME account at ${directoryUrl} cannot be undone: confirm it (--yes)`);
  }
  await finishPendingRollover(o);
  if ((await store.readAccount()) === undefined) throw noAccount(o.folder);
  const account = await loadOrRegisterAccount({ directoryUrl, store, clients: o.clients, log, ...(o.signal ? { signal: o.signal } : {}) });
  const client = o.clients({
    directoryUrl,
    accountKey: account.key,
    accountUrl: account.url,
    what: `ACME account deactivation at ${directoryUrl}`,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!client.updateAccount) throw new WhisperError('INTERNAL', 'this ACME client cannot update an account');
  try {
    await client.updateAccount({ status: 'deactivated' });
  } catch (err) {
    if (!isDeactivated(err)) throw err;
    log.info({ accountUrl: account.url }, 'the CA already reports the ACME account deactivated');
  }
  const from = (await store.readAccount()) ?? { key: account.key, urls: { [directoryUrl]: account.url } };
  const fresh = await generateKey(describeKey(account.key).type);
  const keptAs = await rotateStoreAccount(store, from, { key: fresh, urls: {} }, 'deactivated');
  const thumbprint = keyThumbprint(fresh) ?? '';
  log.warn({ accountUrl: account.url, keptAs, thumbprint }, 'ACME account deactivated: its key is kept aside, and the next start registers a new account');
  return { url: account.url, thumbprint, ...(keptAs === undefined ? {} : { keptAs }) };
}
