import { describe, it, expect } from 'vitest';
import { createMemoryHttp01Store } from '../../src/http01/memory-store.js';
import { createKvHttp01Store, http01KvPrefix, type Http01Kv } from '../../src/http01/kv-store.js';
import { isAcmeToken } from '../../src/http01/token.js';
import { failure } from './failure.js';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';

function fakeKv(fail?: 'set' | 'delete') {
  const data = new Map<string, string>();
  const calls: string[] = [];
  const kv: Http01Kv = {
    async kvSet(key, value) {
      calls.push(`set ${key}`);
      if (fail === 'set') throw new Error('Consul 500');
      data.set(key, value);
    },
    async kvGet(key) {
      calls.push(`get ${key}`);
      return data.get(key);
    },
    async kvDelete(key) {
      calls.push(`delete ${key}`);
      if (fail === 'delete') throw new Error('Consul 500');
      data.delete(key);
    },
  };
  return { kv, data, calls };
}

describe('ACME token syntax', () => {
  it('is base64url without padding, 1 to 256 characters', () => {
    expect(isAcmeToken(TOKEN)).toBe(true);
    expect(isAcmeToken('a-b_C9')).toBe(true);
    for (const bad of ['', 'a.b', 'a/b', '..', 'ab=', 'a b', 'a'.repeat(257), 'é']) expect(isAcmeToken(bad), bad).toBe(false);
  });
});

describe('memory HTTP-01 store', () => {
  it('serves a token from present to cleanUp, and refuses bad tokens', async () => {
    const store = createMemoryHttp01Store();
    await store.present(TOKEN, `${TOKEN}.thumb`);
    expect(await store.lookup(TOKEN)).toBe(`${TOKEN}.thumb`);
    await store.cleanUp(TOKEN);
    await store.cleanUp(TOKEN);
    expect(await store.lookup(TOKEN)).toBeUndefined();
    expect((await failure(store.present('../x', 'v'))).code).toBe('HTTP01');
    expect((await failure(store.present(TOKEN, 'has space'))).code).toBe('HTTP01');
  });
});

describe('Consul KV HTTP-01 store (--ha)', () => {
  it('keeps each token at <lock-key>/http01/<token>, read by any instance, deleted by cleanUp', async () => {
    const { kv, data, calls } = fakeKv();
    const prefix = http01KvPrefix('whisper/leader');
    expect(prefix).toBe('whisper/leader/http01');
    const leader = createKvHttp01Store({ api: kv, prefix });
    const follower = createKvHttp01Store({ api: kv, prefix });
    await leader.present(TOKEN, `${TOKEN}.thumb`);
    expect(data.get(`whisper/leader/http01/${TOKEN}`)).toBe(`${TOKEN}.thumb`);
    expect(await follower.lookup(TOKEN)).toBe(`${TOKEN}.thumb`);
    await leader.cleanUp(TOKEN);
    expect(data.size).toBe(0);
    expect(await follower.lookup(TOKEN)).toBeUndefined();
    // A bad token never reaches Consul.
    calls.length = 0;
    expect(await follower.lookup('../../whisper/leader/account')).toBeUndefined();
    expect((await failure(leader.present('a/b', 'v'))).code).toBe('HTTP01');
    expect(calls).toEqual([]);
  });

  it('turns KV failures into retryable HTTP01 errors', async () => {
    const set = await failure(createKvHttp01Store({ api: fakeKv('set').kv, prefix: 'p' }).present(TOKEN, 'v'));
    expect(set.code).toBe('HTTP01');
    expect(set.retryable).toBe(true);
    expect(set.message).not.toContain('v\n');
    const del = await failure(createKvHttp01Store({ api: fakeKv('delete').kv, prefix: 'p' }).cleanUp(TOKEN));
    expect(del.code).toBe('HTTP01');
  });
});
