import type { ConsulApi, KvItem, KvListing, KvRead } from '../../../src/consul/api.js';

/**
 * An in-memory Consul KV with ModifyIndex and check-and-set, shared by several "instances". `beforeCas` runs just
 * before each CAS write is decided (a race: another instance writing first); `down` makes every call fail.
 */
export function fakeKv() {
  const items = new Map<string, { value: string; modifyIndex: number }>();
  let index = 10;
  const calls: string[] = [];
  const state = { down: false, beforeCas: undefined as ((key: string) => void) | undefined };
  const check = () => {
    if (state.down) throw Object.assign(new Error('Consul unreachable'), { code: 'CONSUL_UNAVAILABLE' });
  };
  const item = (key: string): KvItem | undefined => {
    const it = items.get(key);
    return it ? { key, value: it.value, modifyIndex: it.modifyIndex } : undefined;
  };
  const put = (key: string, value: string) => void items.set(key, { value, modifyIndex: ++index });
  const api = {
    async kvRead(key: string): Promise<KvRead> {
      calls.push(`read ${key}`);
      check();
      const found = item(key);
      return { index: found?.modifyIndex ?? index, ...(found ? { item: found } : {}) };
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
    async kvList(prefix: string): Promise<KvListing> {
      check();
      return { index, items: [...items.keys()].filter((k) => k.startsWith(prefix)).sort().map((k) => item(k)!) };
    },
  } satisfies Pick<Required<ConsulApi>, 'kvRead' | 'kvCas' | 'kvSet' | 'kvList'>;
  return { api, calls, state, put, get: (key: string) => items.get(key)?.value, keys: () => [...items.keys()] };
}
