import { readFile } from 'node:fs/promises';
import { errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import { decodeState, encodeState } from '../state/codec.js';
import { saveState, statePath } from '../state/file.js';
import { mergeBudget } from '../state/merge.js';
import type { WhisperState } from '../state/types.js';
import { ensureDir } from '../store/atomic.js';
import type { AccountRecord, CertStore } from '../store/types.js';
import { backoffDelay, type Sleep } from '../time.js';
import { cacheAccount, decodeAccount } from './kv-account.js';
import type { KvCodec } from './kv-crypto.js';

/** Options of {@link followState} and {@link followAccount}: one KV key to follow. */
export interface KvFollowOptions {
  readonly api: Required<Pick<ConsulApi, 'kvRead'>>;
  /** The KV key (`<lock-key>/state` or `<lock-key>/account`). */
  readonly key: string;
  readonly log: Logger;
  readonly sleep: Sleep;
  /** Longest wait of one blocking query. @default '5m' */
  readonly wait?: string;
}

/** How one key's value becomes a local copy. */
interface LocalCopy<T> {
  /** What the key holds, for messages. */
  readonly what: string;
  /** The value's content; throws when it is unreadable (the local copy is then kept). */
  parse(value: string): T;
  /** Writes the local copy (atomically); throws when it could not (retried after a backoff). */
  write(content: T): Promise<void>;
}

/**
 * Follows one KV key with blocking queries until `signal` aborts, writing each new value into a local copy. A key
 * that goes away (KV lost, deleted by hand) leaves the copy as it is: the next leader publishes it. An unreadable
 * value is a warning, once per value. A Consul failure or a failed write is retried after a backoff, re-reading
 * without blocking (Consul may come back as another agent, whose index is below ours). A write in progress when
 * `signal` aborts is finished before this resolves, so the caller knows the folder is no longer written.
 */
async function followKey<T>(options: KvFollowOptions, copy: LocalCopy<T>, signal: AbortSignal): Promise<void> {
  const { api, key, log } = options;
  let index = 0;
  let failures = 0;
  /** The last value copied, or found unreadable. */
  let seen: string | undefined;
  while (!signal.aborted) {
    try {
      const read = await api.kvRead(key, { index, wait: options.wait ?? '5m', signal });
      index = read.index < index ? 0 : Math.max(read.index, 1);
      const value = read.item?.value;
      if (value !== undefined && value !== seen) {
        let content: T;
        try {
          content = copy.parse(value);
        } catch (err) {
          seen = value;
          failures = 0;
          log.warn({ key, code: isWhisperError(err) ? err.code : 'STORE_CORRUPT', err: errorMessage(err) }, `the ${copy.what} in Consul KV is unreadable; the local copy is kept`);
          continue;
        }
        await copy.write(content);
        seen = value;
      }
      failures = 0;
    } catch (err) {
      if (signal.aborted) return;
      failures++;
      index = 0;
      const delay = backoffDelay(failures, { baseMs: 1000, maxMs: 30_000 });
      log.warn({ key, code: isWhisperError(err) ? err.code : undefined, err: errorMessage(err), retryInMs: delay }, `cannot copy the ${copy.what} from Consul KV; retrying`);
      await options.sleep(delay, signal).catch(() => undefined);
    }
  }
}

/** Options of {@link followState}. */
export interface FollowStateOptions extends KvFollowOptions {
  /** The certificate folder, whose state file is written. */
  readonly dir: string;
  /** Writes the state file (atomically). @default saveState */
  readonly saveFile?: (dir: string, state: WhisperState) => Promise<void>;
}

/**
 * A follower's copy of the cluster's state (`<lock-key>/state`): its `.whisper-state.json` follows the KV copy, so
 * that when KV is lost the next leader starts from (and publishes) a recent history, not its last leadership's. A
 * file that already holds the KV state is not written again. Run only while another instance leads.
 */
export function followState(options: FollowStateOptions, signal: AbortSignal): Promise<void> {
  const { dir, log, key } = options;
  const saveFile = options.saveFile ?? saveState;
  return followKey(
    options,
    {
      what: 'state',
      parse: decodeState,
      async write(shared) {
        const current = await readFile(statePath(dir), 'utf8').catch(() => undefined);
        // The budget history is the union of both copies: one written by a leader that lost KV keeps its orders.
        let local: ReturnType<typeof decodeState> | undefined;
        try {
          local = current === undefined ? undefined : decodeState(current);
        } catch {
          local = undefined;
        }
        const state = local ? { ...shared, budget: mergeBudget(local.budget, shared.budget) } : shared;
        if (current === encodeState(state)) return;
        await ensureDir(dir);
        await saveFile(dir, state);
        log.debug({ key, budgetEvents: state.budget.length, certificates: Object.keys(state.certs).length }, 'state copied from Consul KV to the state file');
      },
    },
    signal,
  );
}

/** Options of {@link followAccount}. */
export interface FollowAccountOptions extends KvFollowOptions {
  /** The local folder store (its `.acme` and `.acme.json`). */
  readonly folder: CertStore;
  /** Decrypts the value (`--kv-encryption-key-file`). */
  readonly codec: KvCodec;
}

/**
 * A follower's copy of the cluster's ACME account (`<lock-key>/account`, decrypted): its `.acme` and `.acme.json`
 * follow it as a leader's do (a different account in the folder is kept aside), so that when KV is lost the next
 * leader publishes the cluster's account rather than registering or publishing another. Run only while another
 * instance leads.
 */
export function followAccount(options: FollowAccountOptions, signal: AbortSignal): Promise<void> {
  const { key, log, codec, folder } = options;
  return followKey<AccountRecord>(
    options,
    {
      what: 'ACME account',
      parse: (value) => decodeAccount(key, codec.decode(key, value)),
      async write(record) {
        if (await cacheAccount(folder, record, { key, log })) log.info({ key }, 'ACME account copied from Consul KV to the folder');
      },
    },
    signal,
  );
}
