import { promises as fsp } from 'node:fs';
import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { keyThumbprint, sameKey } from '../store/account-key.js';
import { tryPrivateKey } from '../store/pem.js';
import type { AccountRecord, AccountRotation, CertStore } from '../store/types.js';
import type { KeyType } from './keys.js';
import { hasProblemType } from './problems.js';
import type { AcmeClientFactory } from './types.js';

/** What every account operation (`account show|rollover|deactivate`, `revoke`) works with. */
export interface AccountOpsOptions {
  /** The CA's directory URL: the account's URL is saved per directory. */
  readonly directoryUrl: string;
  /** The daemon's account store (see `accountStore`): the folder's, or under `--ha` the Consul KV account around it. */
  readonly store: CertStore;
  readonly clients: AcmeClientFactory;
  /** The certificate folder, named in messages. @default not named */
  readonly folder?: string;
  /**
   * Where a key rollover keeps the new key until the account holds it: `<account key file>.next` (see `accountStore`).
   * A key found there is resolved first by every operation (see {@link finishPendingRollover}). Required by a rollover.
   * @default none: nothing pending is looked for
   */
  readonly pendingKeyFile?: string;
  readonly log: Logger;
  /** Aborts the requests to the CA in flight. @default none */
  readonly signal?: AbortSignal;
  /** Clock of the names of files kept aside. @default () => new Date() */
  readonly now?: () => Date;
}

/** `ACME_ACCOUNT`: there is no account key at all. */
export function noAccount(folder: string | undefined): WhisperError {
  const where = folder === undefined ? 'no ACME account (no .acme in the certificate folder' : `no ACME account in ${folder} (no .acme there`;
  return new WhisperError('ACME_ACCOUNT', `${where}, no -a key file, no ~/.acme)`);
}

/** How `account show` names a key (`ecdsa-p256`, `rsa-2048`, …), and the {@link KeyType} a new key of it gets. */
export function describeKey(pem: string): { readonly name: string; readonly type: KeyType } {
  const key = tryPrivateKey(pem);
  const details = key?.asymmetricKeyDetails;
  if (key?.asymmetricKeyType === 'ec') {
    const curve = details?.namedCurve;
    if (curve === 'prime256v1') return { name: 'ecdsa-p256', type: 'ecdsa-p256' };
    if (curve === 'secp384r1') return { name: 'ecdsa-p384', type: 'ecdsa-p384' };
    return { name: `ecdsa-${curve ?? 'unknown'}`, type: 'ecdsa-p256' };
  }
  if (key?.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength ?? 0;
    return { name: `rsa-${bits}`, type: bits > 2048 ? 'rsa4096' : 'rsa2048' };
  }
  // Ed25519 and others: a new key is what every CA accepts.
  return { name: key?.asymmetricKeyType ?? 'unknown', type: 'ecdsa-p256' };
}

/** `store.rotateAccount`, or `INTERNAL` for a store that cannot replace its account on purpose. */
export async function rotateStoreAccount(store: CertStore, from: AccountRecord, to: AccountRecord, why: AccountRotation): Promise<string | undefined> {
  if (!store.rotateAccount) throw new WhisperError('INTERNAL', 'this certificate store cannot replace its ACME account key');
  return store.rotateAccount(from, to, why);
}

async function readPending(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WhisperError('STORE_READ', `cannot read the pending ACME account key ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Removes the pending key once the account holds it; failing is only a warning (the next run sees it is held). */
export async function removePending(o: AccountOpsOptions & { readonly pendingKeyFile: string }): Promise<void> {
  await fsp.unlink(o.pendingKeyFile).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') o.log.warn({ file: o.pendingKeyFile, err: err.message }, 'cannot remove the pending ACME account key; the account already holds it');
  });
}

/** Moves a pending key the CA does not know aside (`<file>.unused-<time>`): never deleted. */
async function setAside(o: AccountOpsOptions & { readonly pendingKeyFile: string }, why: string): Promise<void> {
  const stamp = (o.now?.() ?? new Date()).toISOString().replace(/[-:]/g, '');
  const aside = `${o.pendingKeyFile}.unused-${stamp}`;
  try {
    await fsp.rename(o.pendingKeyFile, aside);
  } catch (err) {
    throw new WhisperError('STORE_WRITE', `cannot move the pending ACME account key ${o.pendingKeyFile} aside: ${errorMessage(err)}`, { cause: err });
  }
  o.log.warn({ file: o.pendingKeyFile, keptAs: aside }, `a pending ACME account key was left by an interrupted rollover and ${why}: kept aside, the account is unchanged`);
}

/** What {@link finishPendingRollover} found. */
export type PendingOutcome = 'none' | 'finished' | 'set-aside';

/**
 * Resolves a key a rollover left in `pendingKeyFile` (it was saved there before the CA was asked, so a crash never
 * loses it): when the account already holds it, the file is removed; when the CA knows it (`newAccount` with
 * `onlyReturnExisting` signed by it), the CA switched before the crash, and the switch is finished in the store (the
 * old key kept aside); when the CA answers `accountDoesNotExist`, the CA never took it, and it is moved aside. Any other
 * answer (the CA unreachable) throws and leaves the file, to be asked again. The daemon should call this before it
 * loads its account, or it may look up the old key, which the CA no longer knows.
 */
export async function finishPendingRollover(options: AccountOpsOptions): Promise<PendingOutcome> {
  const file = options.pendingKeyFile;
  if (file === undefined) return 'none';
  const o = { ...options, pendingKeyFile: file };
  const pending = await readPending(file);
  if (pending === undefined) return 'none';
  if (tryPrivateKey(pending) === undefined) {
    await setAside(o, 'does not parse');
    return 'set-aside';
  }
  const current = await o.store.readAccount();
  if (current !== undefined && sameKey(current.key, pending)) {
    await removePending(o);
    return 'finished';
  }
  const client = o.clients({
    directoryUrl: o.directoryUrl,
    accountKey: pending,
    what: `ACME account key rollover (pending key ${o.pendingKeyFile})`,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  let url: string;
  try {
    await client.createAccount({ onlyReturnExisting: true });
    url = client.getAccountUrl();
  } catch (err) {
    if (!hasProblemType(err, 'accountDoesNotExist')) throw pendingError(o, err);
    await setAside(o, 'the CA does not know it');
    return 'set-aside';
  }
  // Only this directory's URL: the account's URLs at other CAs belong to the old key (kept aside with it).
  const to = { key: pending, urls: { [o.directoryUrl]: url } };
  let keptAs: string | undefined;
  if (current === undefined) await o.store.writeAccount(to);
  else keptAs = await rotateStoreAccount(o.store, current, to, 'old');
  await removePending(o);
  o.log.warn({ accountUrl: url, thumbprint: keyThumbprint(pending), keptAs }, 'finished an interrupted ACME account key rollover: the CA already held the new key');
  return 'finished';
}

function pendingError(o: { readonly pendingKeyFile: string }, err: unknown): WhisperError {
  return withNote(err, `; the pending key ${o.pendingKeyFile} stays until the CA says whether it holds it`);
}

/** `err` with `note` added to its message; its code, retryability and `Retry-After` kept. */
export function withNote(err: unknown, note: string): WhisperError {
  if (isWhisperError(err)) {
    return new WhisperError(err.code, err.message + note, { retryable: err.retryable, cause: err, ...(err.retryAfter ? { retryAfter: err.retryAfter } : {}) });
  }
  return new WhisperError('ACME_BAD_RESPONSE', errorMessage(err) + note, { cause: err });
}
