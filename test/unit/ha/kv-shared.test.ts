import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { createFolderStore } from '../../../src/store/folder.js';
import type { ConsulApi } from '../../../src/consul/api.js';
import { prepareKvShared } from '../../../src/ha/kv-shared.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeKv } from './fake-kv.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-kv-shared-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function setup(args: Record<string, unknown>, keyFileMode = 0o600) {
  const raw: string[] = [];
  const log = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => void (raw.push(c.toString()), cb()) }) });
  const lines = () => raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const keyFile = path.join(dir, 'kv.keys');
  const kv = fakeKv();
  const consul = { ...kv.api } as unknown as ConsulApi;
  const make = async () => {
    await fsp.writeFile(keyFile, `k1:${Buffer.alloc(32, 3).toString('base64')}\n`, { mode: keyFileMode });
    await fsp.chmod(keyFile, keyFileMode);
    const config = buildConfig(path.join(dir, 'certs'), { ...args, ...(args.kvEncryptionKeyFile ? { kvEncryptionKeyFile: keyFile } : {}) }, { env: {} });
    return prepareKvShared({ config, consul, log, sleep: async () => undefined });
  };
  return { make, lines, kv };
}

const warnings = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.level === 40).map((l) => String(l.msg));

describe('what --ha and --store consul share in Consul KV', () => {
  it('warns once at start that private keys in KV are unencrypted without --kv-encryption-key-file, naming the keys', async () => {
    const t = setup({ ha: true, store: 'consul' });
    await t.make();
    const unencrypted = t.lines().filter((l) => l.level === 40 && String(l.msg).includes('unencrypted'));
    expect(unencrypted).toHaveLength(1);
    expect(unencrypted[0]).toMatchObject({ keys: ['whisper/leader/account', 'whisper/certs/'] });
  });

  it('with a key file of mode 0600 says nothing; another mode is a warning naming the file', async () => {
    const ok = setup({ ha: true, kvEncryptionKeyFile: true });
    await ok.make();
    expect(warnings(ok.lines())).toEqual([]);
    const loose = setup({ ha: true, kvEncryptionKeyFile: true }, 0o644);
    await loose.make();
    expect(loose.lines().filter((l) => l.level === 40)).toMatchObject([{ file: path.join(dir, 'kv.keys'), mode: '644' }]);
  });

  it('under --ha, keeps the account and the state in KV beside the lock, encrypting the account', async () => {
    const t = setup({ ha: true, lockKey: 'cluster/lock', kvEncryptionKeyFile: true });
    const shared = await t.make();
    const store = shared.withAccount(createFolderStore(path.join(dir, 'certs')));
    await store.writeAccount({ key: makeKey().pem, urls: {} });
    expect(t.kv.get('cluster/lock/account')).toMatch(/^whisper-enc:v1:k1:/);
    expect(shared.state()).toBeDefined();
    await shared.state()!.load(async () => ({ state: { budget: [], certs: {} } }));
    expect(t.kv.keys().sort()).toEqual(['cluster/lock/account', 'cluster/lock/state']);
  });

  it('with --store consul alone, shares neither the account nor the state', async () => {
    const t = setup({ store: 'consul', kvEncryptionKeyFile: true });
    const shared = await t.make();
    const folder = createFolderStore(path.join(dir, 'certs'));
    expect(shared.withAccount(folder)).toBe(folder);
    expect(shared.state()).toBeUndefined();
    expect(shared.codec.encrypted).toBe(true);
    // Nothing to follow besides the certificates: resolves at once, reading nothing.
    await shared.follow(folder, new AbortController().signal);
    expect(t.kv.calls).toEqual([]);
  });
});
