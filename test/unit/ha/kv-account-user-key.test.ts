import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/log.js';
import { createFolderStore } from '../../../src/store/folder.js';
import { accountKvKey, createKvAccountStore } from '../../../src/ha/kv-account.js';
import { kvCodec } from '../../../src/ha/kv-crypto.js';
import { followAccount } from '../../../src/ha/kv-follow.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeKv } from './fake-kv.js';

const KEY = accountKvKey('whisper/leader');
const DIR_URL = 'https://ca.test/directory';

let base: string;
let folder: string;
let home: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-kv-user-key-'));
  folder = path.join(base, 'certs');
  home = path.join(base, 'home');
  await fsp.mkdir(home);
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

/** whisper's `~/.acme` (PKCS#1 RSA, mode 0644); `unchanged()` checks bytes, mode, mtime and inode. */
async function whisperHomeKey() {
  const file = path.join(home, '.acme');
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  await fsp.writeFile(file, key);
  await fsp.chmod(file, 0o644);
  const before = await fsp.stat(file);
  return {
    file,
    key,
    async unchanged() {
      const after = await fsp.stat(file);
      expect(await fsp.readFile(file, 'utf8')).toBe(key);
      expect([after.mode, after.mtimeMs, after.ino]).toEqual([before.mode, before.mtimeMs, before.ino]);
    },
  };
}

function logLines() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ destination }), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the ACME account in Consul KV (--ha) and a key file the user gave', () => {
  it('KV without an account: the resolved key (~/.acme) is the one published, and ~/.acme stays as it is', async () => {
    const kv = fakeKv();
    const k = await whisperHomeKey();
    const store = createKvAccountStore(createFolderStore(folder, { homeDir: home }), { api: kv.api, key: KEY, codec: kvCodec(undefined), log: logLines().log });
    expect(await store.readAccount()).toEqual({ key: k.key, urls: {} });
    expect(JSON.parse(kv.get(KEY)!)).toEqual({ version: 1, key: k.key, urls: {} });
    await store.writeAccount({ key: k.key, urls: { [DIR_URL]: 'https://ca.test/acct/1' } });
    expect(JSON.parse(kv.get(KEY)!).urls).toEqual({ [DIR_URL]: 'https://ca.test/acct/1' });
    await k.unchanged();
    expect(await fsp.readdir(folder)).toEqual(['.acme.json']);
  });

  it('KV holding another account: the cluster\'s is used, ~/.acme and -a files are left alone with a warning', async () => {
    const kv = fakeKv();
    const cluster = { key: makeKey().pem, urls: { [DIR_URL]: 'https://ca.test/acct/7' } };
    kv.put(KEY, JSON.stringify({ version: 1, ...cluster }));
    const k = await whisperHomeKey();
    const { log, lines } = logLines();
    const folderStore = createFolderStore(folder, { homeDir: home });
    const store = createKvAccountStore(folderStore, { api: kv.api, key: KEY, codec: kvCodec(undefined), log });
    expect(await store.readAccount()).toEqual(cluster);
    await store.writeAccount(cluster);
    await k.unchanged();
    expect(await fsp.readdir(folder).catch(() => [])).toEqual([]);
    expect((await folderStore.readAccount())?.key).toBe(k.key);
    const warned = lines().filter((l) => l.level === 40);
    expect(warned.length).toBeGreaterThan(0);
    expect(String(warned[0]?.msg)).toMatch(/left alone/);
    expect(String(warned[0]?.err)).toContain(k.file);

    const given = path.join(base, 'given.pem');
    const other = makeKey().pem;
    await fsp.writeFile(given, other, { mode: 0o600 });
    const viaOption = createKvAccountStore(createFolderStore(folder, { accountKeyFile: given }), { api: kv.api, key: KEY, codec: kvCodec(undefined), log });
    expect(await viaOption.readAccount()).toEqual(cluster);
    expect(await fsp.readFile(given, 'utf8')).toBe(other);
  });

  it('a follower does not retry (nor back off) a copy it must not make', async () => {
    const kv = fakeKv();
    const cluster = { key: makeKey().pem, urls: { [DIR_URL]: 'https://ca.test/acct/7' } };
    kv.put(KEY, JSON.stringify({ version: 1, ...cluster }));
    const k = await whisperHomeKey();
    const { log, lines } = logLines();
    const sleeps: number[] = [];
    const ac = new AbortController();
    const run = followAccount(
      { api: kv.api, key: KEY, folder: createFolderStore(folder, { homeDir: home }), codec: kvCodec(undefined), log, sleep: async (ms) => void sleeps.push(ms) },
      ac.signal,
    );
    for (let i = 0; i < 100 && !lines().some((l) => l.level === 40); i++) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await run;
    expect(lines().filter((l) => l.level === 40)).toHaveLength(1);
    expect(sleeps).toEqual([]);
    await k.unchanged();
  });
});
