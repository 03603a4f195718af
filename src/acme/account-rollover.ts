import path from 'node:path';
import { WhisperError } from '../errors.js';
import { keyThumbprint } from '../store/account-key.js';
import { ensureDir, writeFileAtomic } from '../store/atomic.js';
import { loadOrRegisterAccount } from './account.js';
import { describeKey, finishPendingRollover, noAccount, removePending, rotateStoreAccount, withNote, type AccountOpsOptions } from './account-pending.js';
import { withKeyChange } from './key-change.js';
import { generateKey, type KeyType } from './keys.js';

/** Options of {@link rolloverAccountKey}. */
export interface RolloverOptions extends AccountOpsOptions {
  /** Where the new key is kept until the account holds it (see {@link AccountOpsOptions.pendingKeyFile}). */
  readonly pendingKeyFile: string;
  /** Type of the new key. @default the old key's type (`ecdsa-p256` for a type whisper-ts does not make) */
  readonly keyType?: KeyType;
}

/** What a key rollover did. */
export interface RolloverResult {
  /** The account URL: the same before and after. */
  readonly url: string;
  readonly oldThumbprint: string;
  readonly thumbprint: string;
  /** `ecdsa-p256`, `rsa-2048`, … of the new key. */
  readonly keyType: string;
  /** Base name of the old key file kept aside in the folder (`.acme.old-<time>`), if the folder held it. */
  readonly keptAs?: string;
}

/**
 * Replaces the account key of `directoryUrl`'s account with a fresh one (RFC 8555 section 7.3.5); the account URL
 * stays. Crash safe: the new key is saved first (`pendingKeyFile`, mode 0600, atomically), then the CA switches, then
 * the store's account becomes the new key (`CertStore.rotateAccount`: under `--ha` Consul KV with check-and-set, then
 * the folder; the old key kept aside, never deleted), then the pending file is removed. A pending key from an earlier
 * run is resolved first (see {@link finishPendingRollover}). The account's URLs at other directories are dropped from
 * the store: they belong to the old key, kept aside with it. Without an account key: `ACME_ACCOUNT`; a key the CA
 * does not know is not registered here (`ACME_ACCOUNT`, as without an e-mail).
 */
export async function rolloverAccountKey(o: RolloverOptions): Promise<RolloverResult> {
  const { directoryUrl, store, log } = o;
  await finishPendingRollover(o);
  const saved = await store.readAccount();
  if (saved === undefined) throw noAccount(o.folder);
  // The saved URL, or the CA's answer for the key; never a registration (no e-mail).
  const account = await loadOrRegisterAccount({ directoryUrl, store, clients: o.clients, log, ...(o.signal ? { signal: o.signal } : {}) });
  const from = (await store.readAccount()) ?? saved;
  const newKey = await generateKey(o.keyType ?? describeKey(account.key).type);
  await ensureDir(path.dirname(o.pendingKeyFile));
  await writeFileAtomic(o.pendingKeyFile, newKey, { mode: 0o600 });

  const client = withKeyChange(o.clients)({
    directoryUrl,
    accountKey: account.key,
    accountUrl: account.url,
    what: `ACME account key rollover at ${directoryUrl}`,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!client.updateAccountKey) throw new WhisperError('INTERNAL', 'this ACME client cannot change an account key');
  try {
    await client.updateAccountKey(newKey);
  } catch (err) {
    // The CA may have switched all the same (an answer lost): the pending key says which key to ask about next time.
    throw withNote(err, `; the new key stays in ${o.pendingKeyFile}: run the rollover again, it first asks the CA which key it holds`);
  }

  const others = Object.keys(from.urls).filter((dir) => dir !== directoryUrl);
  const keptAs = await rotateStoreAccount(store, from, { key: newKey, urls: { [directoryUrl]: account.url } }, 'old');
  await removePending(o);
  const result = {
    url: account.url,
    oldThumbprint: keyThumbprint(account.key) ?? '',
    thumbprint: keyThumbprint(newKey) ?? '',
    keyType: describeKey(newKey).name,
    ...(keptAs === undefined ? {} : { keptAs }),
  };
  log.info({ accountUrl: result.url, thumbprint: result.thumbprint, oldThumbprint: result.oldThumbprint, keptAs }, 'ACME account key rolled over');
  if (others.length > 0) log.warn({ directories: others, keptAs }, 'the old account key is still the key of its accounts at other CAs; it is kept aside with their URLs');
  return result;
}
