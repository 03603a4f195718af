import { WhisperError } from '../../../src/errors.js';
import type { ConsulApi, KvItem, KvListing, KvQuery, KvRead } from '../../../src/consul/api.js';

/**
 * An in-memory Consul KV with ModifyIndex and check-and-set, shared by several "instances". `beforeCas` runs just
 * before each CAS write is decided (a race: another instance writing first); `down` makes every call fail.
 * A read with an index (`kvRead(key, { index })`) blocks while the key's index is still that one, as Consul's
 * blocking queries do; `clear` empties the store (a Consul agent restarted without its data) and wakes them.
 * `kvAcquire`/`kvRelease` take and free a key's lock for a session.
 */
export function fakeKv() {
  const items = new Map<string, { value: string; modifyIndex: number; session?: string }>();
  let index = 10;
  const calls: string[] = [];
  const state = { down: false, beforeCas: undefined as ((key: string) => void) | undefined };
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const check = () => {
    if (state.down) throw Object.assign(new Error('Consul unreachable'), { code: 'CONSUL_UNAVAILABLE' });
  };
  const item = (key: string): KvItem | undefined => {
    const it = items.get(key);
    return it ? { key, value: it.value, modifyIndex: it.modifyIndex, ...(it.session ? { session: it.session } : {}) } : undefined;
  };
  /** The index a read of `key` answers: the key's ModifyIndex, or the store's for a missing key. */
  const indexOf = (key: string) => items.get(key)?.modifyIndex ?? index;
  const put = (key: string, value: string, session?: string) => {
    items.set(key, { value, modifyIndex: ++index, ...(session ? { session } : {}) });
    wake();
  };
  const remove = (key: string) => {
    items.delete(key);
    index++;
    wake();
  };
  /** Forgets every key; the index starts again from `from` (a new Consul agent's index may be below the old one's). */
  const clear = (from = 1) => {
    items.clear();
    index = from;
    wake();
  };
  const changed = (signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const done = () => {
        waiters.delete(done);
        signal?.removeEventListener('abort', aborted);
        resolve();
      };
      const aborted = () => {
        waiters.delete(done);
        reject(new WhisperError('ABORTED', 'aborted'));
      };
      if (signal?.aborted) return aborted();
      waiters.add(done);
      signal?.addEventListener('abort', aborted, { once: true });
    });
  const api = {
    async kvRead(key: string, q: KvQuery = {}): Promise<KvRead> {
      calls.push(`read ${key}`);
      check();
      while (q.index !== undefined && q.index > 0 && indexOf(key) === q.index) await changed(q.signal);
      check();
      const found = item(key);
      return { index: indexOf(key), ...(found ? { item: found } : {}) };
    },
    async kvCas(key: string, value: string, cas: number): Promise<boolean> {
      calls.push(`cas ${key} ${cas}`);
      check();
      const hook = state.beforeCas;
      state.beforeCas = undefined;
      hook?.(key);
      const current = items.get(key)?.modifyIndex ?? 0;
      if (current !== cas) return false;
      put(key, value);
      return true;
    },
    async kvSet(key: string, value: string): Promise<void> {
      calls.push(`set ${key}`);
      check();
      put(key, value);
    },
    async kvDelete(key: string): Promise<void> {
      calls.push(`delete ${key}`);
      check();
      if (items.has(key)) remove(key);
    },
    async kvList(prefix: string): Promise<KvListing> {
      check();
      return { index, items: [...items.keys()].filter((k) => k.startsWith(prefix)).sort().map((k) => item(k)!) };
    },
    async kvAcquire(key: string, value: string, session: string): Promise<boolean> {
      calls.push(`acquire ${key} ${session}`);
      check();
      const held = items.get(key)?.session;
      if (held !== undefined && held !== session) return false;
      put(key, value, session);
      return true;
    },
    async kvRelease(key: string, session: string): Promise<boolean> {
      calls.push(`release ${key} ${session}`);
      check();
      const it = items.get(key);
      if (it?.session !== session) return false;
      put(key, it.value);
      return true;
    },
  } satisfies Pick<Required<ConsulApi>, 'kvRead' | 'kvCas' | 'kvSet' | 'kvDelete' | 'kvList' | 'kvAcquire' | 'kvRelease'>;
  return { api, calls, state, put, remove, clear, get: (key: string) => items.get(key)?.value, keys: () => [...items.keys()] };
}
