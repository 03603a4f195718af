import { isDeepStrictEqual } from 'node:util';
import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import { sameKey } from '../store/account-key.js';
import { tryPrivateKey } from '../store/pem.js';
import type { AccountRecord, AccountRotation, CertStore } from '../store/types.js';
import type { KvCodec } from './kv-crypto.js';
import { assertKvValueSize } from './kv-store.js';

/** The KV key of the cluster's ACME account: beside the lock, `<lock-key>/account`. */
export function accountKvKey(lockKey: string): string {
  return `${lockKey}/account`;
}

/** Options of {@link createKvAccountStore}. */
export interface KvAccountOptions {
  readonly api: Required<Pick<ConsulApi, 'kvRead' | 'kvCas'>>;
  /** KV key of the account (see {@link accountKvKey}). */
  readonly key: string;
  /** Encrypts the value (`--kv-encryption-key-file`), or not. */
  readonly codec: KvCodec;
  readonly log: Logger;
  /** Check-and-set attempts of one write while other instances keep changing the account. @default 5 */
  readonly attempts?: number;
}

function encode(record: AccountRecord): string {
  return JSON.stringify({ version: 1, key: record.key, urls: record.urls });
}

/** The account in the (decrypted) value of `kvKey`. Throws `ACME_ACCOUNT` naming the key when it does not parse. */
export function decodeAccount(kvKey: string, text: string): AccountRecord {
  const bad = () =>
    new WhisperError('ACME_ACCOUNT', `Consul KV key ${kvKey} does not hold a readable ACME account; restore it from a Consul snapshot, or delete it to let the next leader publish its own`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad();
  }
  const o = raw as { version?: unknown; key?: unknown; urls?: unknown } | null;
  if (o?.version !== 1 || typeof o.key !== 'string' || tryPrivateKey(o.key) === undefined) throw bad();
  if (typeof o.urls !== 'object' || o.urls === null || Array.isArray(o.urls)) throw bad();
  const urls = Object.fromEntries(Object.entries(o.urls).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return { key: o.key, urls };
}

/**
 * Under `--ha`, the cluster's one ACME account lives in Consul KV (`key`), so a new leader never registers another:
 * `readAccount` takes it from KV (publishing the folder store's account there first when KV has none, an upgrade: the
 * key file it resolves, `-a`, `.acme` or `~/.acme`; rewriting
 * it with the current encryption key when it is not), and
 * `writeAccount` creates it with check-and-set (of two instances creating one at once, the second keeps the first's)
 * and adds URLs without losing those of others; `rotateAccount` replaces it on purpose (key rollover, deactivation),
 * with check-and-set against the key it replaces. The folder (`inner`) is kept as a cache of it, so `status` and a run
 * without `--ha` find the same account; a different local account is kept aside, never deleted, and a key file the
 * user gave is never touched (see {@link cacheAccount}). Consul being
 * unreachable is an error, never a reason to use the folder's account.
 */
export function createKvAccountStore(inner: CertStore, options: KvAccountOptions): CertStore {
  const { api, key, codec, log } = options;
  const attempts = options.attempts ?? 5;

  async function readKv(): Promise<{ record?: AccountRecord; index: number; current?: boolean }> {
    const read = await api.kvRead(key, {});
    if (!read.item) return { index: 0 };
    return { record: decodeAccount(key, codec.decode(key, read.item.value)), index: read.item.modifyIndex, current: codec.isCurrent(read.item.value) };
  }

  async function put(record: AccountRecord, cas: number): Promise<boolean> {
    const value = codec.encode(key, encode(record));
    assertKvValueSize(`the ACME account (Consul KV key ${key})`, value);
    return api.kvCas(key, value, cas);
  }

  /** Keeps the folder's copy equal to the cluster's; a failure is only a warning (KV is what counts). */
  async function cache(record: AccountRecord): Promise<void> {
    try {
      await cacheAccount(inner, record, { key, log });
    } catch (err) {
      log.warn({ key, err: errorMessage(err) }, 'cannot keep the ACME account from Consul KV in the folder');
    }
  }

  async function readAccount(): Promise<AccountRecord | undefined> {
    for (let attempt = 1; ; attempt++) {
      const shared = await readKv();
      if (shared.record) {
        log.debug({ key }, 'ACME account read from Consul KV');
        // Written in plaintext or with an older key: rewrite it with the current one (lost to a concurrent write: later).
        if (!shared.current && (await put(shared.record, shared.index))) log.info({ key }, 'ACME account in Consul KV rewritten with the current encryption key');
        await cache(shared.record);
        return shared.record;
      }
      const local = await inner.readAccount();
      if (local === undefined) return undefined;
      if (await put(local, 0)) {
        log.info({ key, urls: local.urls }, 'the folder\'s ACME account published to Consul KV: every leader uses it');
        return local;
      }
      // Another instance published or created one meanwhile: read it.
      if (attempt >= attempts) throw kvBusy(key);
    }
  }

  async function writeAccount(record: AccountRecord): Promise<void> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const shared = await readKv();
      if (shared.record && !sameKey(shared.record.key, record.key)) {
        // The cluster already has an account (created by another instance first): that one is kept and used.
        log.info({ key }, 'another instance created the cluster\'s ACME account first; using it');
        return cache(shared.record);
      }
      const merged = { key: record.key, urls: { ...shared.record?.urls, ...record.urls } };
      if (shared.record && isDeepStrictEqual(shared.record.urls, merged.urls)) return cache(merged);
      if (await put(merged, shared.index)) {
        if (!shared.record) log.info({ key }, 'ACME account key stored in Consul KV for every leader');
        return cache(merged);
      }
    }
    throw kvBusy(key);
  }

  /**
   * A deliberate replacement (key rollover, deactivation): check-and-set of `to` only while KV still holds `from`'s
   * key (or already `to`'s: safe to repeat), `to`'s URLs exactly. Then the folder's copy follows, the old key kept
   * aside there; that copy failing is only a warning (KV is what counts, and every read caches it again).
   */
  async function rotateAccount(from: AccountRecord, to: AccountRecord, why: AccountRotation): Promise<string | undefined> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const shared = await readKv();
      const holdsTo = shared.record !== undefined && sameKey(shared.record.key, to.key);
      if (shared.record && !holdsTo && !sameKey(shared.record.key, from.key)) {
        throw new WhisperError('ACME_ACCOUNT', `Consul KV key ${key} holds another ACME account than the one being replaced (another instance changed it); nothing was replaced there`);
      }
      const same = holdsTo && shared.current === true && isDeepStrictEqual(shared.record?.urls, to.urls);
      if (!same && !(await put(to, shared.index))) continue;
      if (!same) log.info({ key, why }, 'the cluster\'s ACME account key replaced in Consul KV');
      try {
        if (inner.rotateAccount) return await inner.rotateAccount(from, to, why);
        await cache(to);
      } catch (err) {
        log.warn({ key, err: errorMessage(err) }, 'the folder\'s copy of the ACME account did not follow Consul KV\'s; the cluster\'s is used');
      }
      return undefined;
    }
    throw kvBusy(key);
  }

  return {
    read: (id) => inner.read(id),
    ...(inner.readKey ? { readKey: (id: string) => inner.readKey!(id) } : {}),
    list: (onProblem) => inner.list(onProblem),
    write: (id, bundle) => inner.write(id, bundle),
    ...(inner.remove ? { remove: (id: string) => inner.remove!(id) } : {}),
    ...(inner.checkWritable ? { checkWritable: () => inner.checkWritable!() } : {}),
    readAccount,
    writeAccount,
    rotateAccount,
  } satisfies CertStore;
}

/**
 * Makes the folder's account (`inner`) the cluster's `record` (from Consul KV `key`): written when the folder has
 * none, its URLs updated when it holds the same key, and a different account kept aside (never deleted) when the
 * store can. A key file the user gave (`-a`, `~/.acme`) or whisper's own key is never replaced: the folder store
 * refuses (`ACME_ACCOUNT`), the file and its URLs stay as they are, and the cluster's account is still the one used
 * (a warning says so). Returns whether anything was written. Throws what the folder's writes throw.
 */
export async function cacheAccount(inner: CertStore, record: AccountRecord, options: { readonly key: string; readonly log: Logger }): Promise<boolean> {
  const { key, log } = options;
  const local = await inner.readAccount().catch(() => null);
  if (local && sameKey(local.key, record.key)) {
    if (isDeepStrictEqual(local.urls, record.urls)) return false;
    await inner.writeAccount(record);
    return true;
  }
  if (local === undefined) {
    await inner.writeAccount(record);
    return true;
  }
  if (!inner.replaceAccount) {
    log.warn({ key }, 'the folder holds another ACME account than Consul KV; it is not replaced');
    return false;
  }
  let aside: string | undefined;
  try {
    aside = await inner.replaceAccount(record);
  } catch (err) {
    if (!isWhisperError(err, 'ACME_ACCOUNT')) throw err;
    log.warn({ key, err: errorMessage(err) }, 'the folder\'s ACME account key differs from the cluster\'s in Consul KV and is left alone; the cluster\'s is used');
    return false;
  }
  log.warn({ key, keptAs: aside }, 'the folder held another ACME account than the cluster\'s in Consul KV; kept aside, the cluster\'s is used');
  return true;
}

function kvBusy(key: string): WhisperError {
  return new WhisperError('CONSUL_ERROR', `the ACME account in Consul KV key ${key} kept changing while it was written; retrying`, { retryable: true });
}
