import { readFile } from 'node:fs/promises';
import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import { mergeBudget } from '../state/merge.js';
import { decodeState, encodeState } from '../state/codec.js';
import { saveState, statePath, type LoadedState } from '../state/file.js';
import type { WhisperState } from '../state/types.js';
import { backoffDelay, type Sleep } from '../time.js';
import { assertKvValueSize } from './kv-store.js';

/** The KV key of the cluster's lifecycle state: beside the lock, `<lock-key>/state`. */
export function stateKvKey(lockKey: string): string {
  return `${lockKey}/state`;
}

/** The state shared by the leaders of a cluster (budget history, renewal times, ARI windows). */
export interface SharedState {
  /**
   * The state a new leader starts from: the KV copy (also written to the local file), or else `local()` (the file,
   * published to KV at once). Waits for Consul while it is unreachable. `signal` is the leadership term's: once it
   * aborts while the daemon is not stopping (leadership lost), the state goes to the file only.
   */
  load(local: () => Promise<LoadedState>, signal?: AbortSignal): Promise<LoadedState>;
  /** A {@link StateKeeper} save: the file, then the KV copy. */
  save(dir: string, state: WhisperState): Promise<void>;
}

/** Options of {@link createKvState}. */
export interface KvStateOptions {
  readonly api: Required<Pick<ConsulApi, 'kvRead' | 'kvCas'>>;
  /** KV key of the state (see {@link stateKvKey}). */
  readonly key: string;
  /** The certificate folder (its state file is the local cache). */
  readonly dir: string;
  readonly log: Logger;
  readonly sleep: Sleep;
  /** Writes the state file. @default saveState */
  readonly saveFile?: (dir: string, state: WhisperState) => Promise<void>;
  /**
   * The daemon's stop signal. A term that ends because the daemon stops still holds the lock for its last write, so
   * that write goes to KV too. @default none: every end of the term counts as a lost leadership
   */
  readonly stop?: AbortSignal;
}

/**
 * One leadership term's view of the state in Consul KV. A leader that lost its leadership writes only its file
 * (the next leader may already have read the KV copy). Every write is a check-and-set against what this leader read
 * or wrote last: once another instance (a newer leader) has written the key, this one stops writing it (a warning,
 * once) and keeps only its file. A state over Consul's KV limit is an error (logged once) and stays in the
 * file; Consul being unreachable fails the save (`STORE_WRITE`, retryable), so the keeper tries again.
 */
export function createKvState(options: KvStateOptions): SharedState {
  const { api, key, log } = options;
  const saveFile = options.saveFile ?? saveState;
  /** What this leader last read or wrote: the key's ModifyIndex then (0: no key; -1: unknown, after a write), and the value. */
  let known: { index: number; value?: string } = { index: 0 };
  let fenced = false;
  let lost = false;
  let sizeLogged = false;

  async function put(state: WhisperState): Promise<void> {
    if (fenced || lost) return;
    const value = encodeState(state, { compact: true });
    try {
      assertKvValueSize(`the state (Consul KV key ${key})`, value);
    } catch (err) {
      if (!sizeLogged) log.error({ key, code: 'STORE_WRITE' }, `${errorMessage(err)}; it is kept in the state file only`);
      sizeLogged = true;
      return;
    }
    sizeLogged = false;
    const current = (await api.kvRead(key, {})).item;
    const ours = current === undefined || current.modifyIndex === known.index || current.value === known.value;
    if (ours && current?.value === value) return;
    if (ours && (await api.kvCas(key, value, current?.modifyIndex ?? 0))) {
      known = { index: -1, value };
      return;
    }
    fenced = true;
    log.warn({ key }, 'the state in Consul KV was written by another instance (a newer leader); this one no longer writes it');
  }

  async function readKv(signal?: AbortSignal): Promise<{ index: number; value: string } | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const item = (await api.kvRead(key, signal ? { signal } : {})).item;
        return item ? { index: item.modifyIndex, value: item.value } : undefined;
      } catch (err) {
        if (signal?.aborted || (isWhisperError(err) && !err.retryable)) throw err;
        const delay = backoffDelay(attempt, { baseMs: 1000, maxMs: 30_000 });
        log.warn({ key, err: errorMessage(err), retryInMs: delay }, 'cannot read the state from Consul KV; retrying');
        await options.sleep(delay, signal);
      }
    }
  }

  return {
    async load(local, signal) {
      const onEnd = () => void (lost ||= !options.stop?.aborted);
      if (signal?.aborted) onEnd();
      else signal?.addEventListener('abort', onEnd, { once: true });
      const shared = await readKv(signal);
      if (shared) {
        known = { index: shared.index, value: shared.value };
        try {
          // KV's state, with the budget events only the local file holds (written while KV was lost).
          const fromKv = decodeState(shared.value);
          const own = await readOwnFile(options.dir);
          const state = own ? { ...fromKv, budget: mergeBudget(own.budget, fromKv.budget) } : fromKv;
          await saveFile(options.dir, state).catch((err: unknown) =>
            log.warn({ file: statePath(options.dir), err: errorMessage(err) }, 'cannot cache the state from Consul KV in the state file'),
          );
          log.info({ key, budgetEvents: state.budget.length, certificates: Object.keys(state.certs).length }, 'state loaded from Consul KV');
          return { state };
        } catch (err) {
          log.warn({ key, code: 'STORE_CORRUPT' }, `the state in Consul KV key ${key} is unreadable (${errorMessage(err)}); using the state file, which replaces it`);
        }
      }
      const loaded = await local();
      await put(loaded.state).catch((err: unknown) => log.warn({ key, err: errorMessage(err) }, 'cannot publish the state to Consul KV yet'));
      return loaded;
    },

    async save(dir, state) {
      await saveFile(dir, state);
      try {
        await put(state);
      } catch (err) {
        throw new WhisperError('STORE_WRITE', `state written to ${statePath(dir)} but not to Consul KV key ${key}: ${errorMessage(err)}`, { retryable: true, cause: err });
      }
    },
  } satisfies SharedState;
}

/** The state file as it is, or `undefined` when it is missing or unreadable (no history is rebuilt here). */
async function readOwnFile(dir: string): Promise<WhisperState | undefined> {
  try {
    return decodeState(await readFile(statePath(dir), 'utf8'));
  } catch {
    return undefined;
  }
}
