import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFolderStore } from '../../../src/store/folder.js';
import { silentLogger } from '../../../src/log.js';
import { createKvMirrorStore } from '../../../src/ha/kv-store.js';
import { createKvAccountStore } from '../../../src/ha/kv-account.js';
import { kvCodec } from '../../../src/ha/kv-crypto.js';
import { removeRetired, runKvSync, syncOnce, type KvSyncOptions } from '../../../src/ha/kv-sync.js';
import { makeBundle } from '../store/x509-fixture.js';
import { fakeKv } from './fake-kv.js';

const PREFIX = 'whisper/certs';
const Z = 'example.com';
const WWW = `www.${Z}`;
const MULTI = `multi-hosts.${Z}`;
const sleep = async () => undefined;
let serial = 500n;
const bundle = (names: string[]) => {
  const b = makeBundle(names, { serial: serial++, notAfter: new Date('2036-01-01T00:00:00Z') });
  return { key: b.key, cert: b.cert, chain: b.chain };
};

let base: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-kv-remove-'));
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

const pems = async (dir: string) => (await fsp.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.pem')).sort();

describe('--store consul: removing a superseded certificate', () => {
  it('the leader deletes the KV copy first, then its files; a failed delete keeps the files', async () => {
    const kv = fakeKv();
    const leader = createKvMirrorStore(createFolderStore(path.join(base, 'leader')), { api: kv.api, log: silentLogger(), sleep });
    await leader.write(WWW, bundle([WWW]));
    kv.state.down = true;
    await expect(leader.remove!(WWW)).rejects.toMatchObject({ code: 'STORE_WRITE', retryable: true });
    expect(await pems(path.join(base, 'leader'))).toEqual([`${WWW}.pem`]);
    kv.state.down = false;
    await leader.remove!(WWW);
    expect(kv.keys()).toEqual([]);
    expect(kv.calls.filter((c) => c.startsWith('delete'))).toEqual([`delete ${PREFIX}/${WWW}`, `delete ${PREFIX}/${WWW}`]);
    expect(await pems(path.join(base, 'leader'))).toEqual([]);
  });

  it('--ha --store consul: the store chain (account in KV, then the KV mirror) removes through to the folder', async () => {
    const kv = fakeKv();
    const folder = createFolderStore(path.join(base, 'leader'));
    const withAccount = createKvAccountStore(folder, { api: kv.api, key: 'whisper/leader/account', codec: kvCodec(undefined), log: silentLogger() });
    const leader = createKvMirrorStore(withAccount, { api: kv.api, log: silentLogger(), sleep });
    await leader.write(WWW, bundle([WWW]));
    await leader.remove!(WWW);
    expect(await pems(path.join(base, 'leader'))).toEqual([]);
    expect(kv.keys()).toEqual([]);
  });

  it('a follower removes its copy once the KV copy is gone and the names are in its other copies', async () => {
    const kv = fakeKv();
    const leader = createKvMirrorStore(createFolderStore(path.join(base, 'leader')), { api: kv.api, log: silentLogger(), sleep });
    const dir = path.join(base, 'follower');
    const options: KvSyncOptions = { api: kv.api, store: createFolderStore(dir), log: silentLogger(), sleep };
    const retiring = new Map<string, string>();
    const pass = async () => {
      const p = await syncOnce(options, new AbortController().signal);
      return { p, removed: await removeRetired(options, p, retiring) };
    };

    await leader.write(WWW, bundle([WWW]));
    const first = await pass();
    expect(await pems(dir)).toEqual([`${WWW}.pem`]);

    // The leader wrote multi-hosts and removed the single file, but the follower's copy of multi-hosts is not
    // readable yet (here: not in KV yet): the single copy stays, its name has no other file.
    kv.remove(`${PREFIX}/${WWW}`);
    retiring.set(WWW, first.p.leaves.get(WWW)!.serial);
    expect((await pass()).removed).toEqual([]);
    expect(await pems(dir)).toEqual([`${WWW}.pem`]);
    expect(retiring.has(WWW)).toBe(true);

    await leader.write(MULTI, bundle(['api.example.com', WWW]));
    expect((await pass()).removed).toEqual([WWW]);
    expect(await pems(dir)).toEqual([`${MULTI}.pem`]);
    expect(retiring.size).toBe(0);
  });

  it('a follower keeps a file that is not the KV copy it saw (put there by hand), and one that comes back to KV', async () => {
    const kv = fakeKv();
    const leader = createKvMirrorStore(createFolderStore(path.join(base, 'leader')), { api: kv.api, log: silentLogger(), sleep });
    const dir = path.join(base, 'follower');
    const folder = createFolderStore(dir);
    const options: KvSyncOptions = { api: kv.api, store: folder, log: silentLogger(), sleep };
    await leader.write(WWW, bundle([WWW]));
    await leader.write(MULTI, bundle(['api.example.com', WWW]));
    const p = await syncOnce(options, new AbortController().signal);
    await folder.write(WWW, bundle([WWW]));
    kv.remove(`${PREFIX}/${WWW}`);
    const retiring = new Map([[WWW, p.leaves.get(WWW)!.serial]]);
    expect(await removeRetired(options, await syncOnce(options, new AbortController().signal), retiring)).toEqual([]);
    expect(await pems(dir)).toEqual([`${MULTI}.pem`, `${WWW}.pem`]);
    expect(retiring.size).toBe(0);
  });

  it('runKvSync follows a deletion it sees between two passes', async () => {
    const kv = fakeKv();
    const leader = createKvMirrorStore(createFolderStore(path.join(base, 'leader')), { api: kv.api, log: silentLogger(), sleep });
    const dir = path.join(base, 'follower');
    await leader.write(WWW, bundle([WWW]));
    await leader.write(MULTI, bundle(['api.example.com', WWW]));
    const ac = new AbortController();
    let passes = 0;
    const api = {
      async kvList(prefix: string) {
        passes++;
        if (passes === 2) kv.remove(`${PREFIX}/${WWW}`);
        if (passes === 3) ac.abort();
        return kv.api.kvList(prefix);
      },
    };
    await runKvSync({ api, store: createFolderStore(dir), log: silentLogger(), sleep }, ac.signal);
    expect(await pems(dir)).toEqual([`${MULTI}.pem`]);
  });
});
