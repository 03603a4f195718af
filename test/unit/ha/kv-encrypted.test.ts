import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createFolderStore } from '../../../src/store/folder.js';
import { createLogger, silentLogger } from '../../../src/log.js';
import { combinedPem, createKvMirrorStore, publishFolder } from '../../../src/ha/kv-store.js';
import { applyItems } from '../../../src/ha/kv-sync.js';
import { envelopeKeyId, kvCodec, parseKeyFile } from '../../../src/ha/kv-crypto.js';
import { makeBundle, makeCert, makeKey } from '../store/x509-fixture.js';
import { fakeKv } from './fake-kv.js';

const PREFIX = 'whisper/certs';
const ID = 'a.example.com';
const ring = (...ids: number[]) => parseKeyFile(ids.map((i) => `k${i}:${Buffer.alloc(32, i).toString('base64')}`).join('\n'), '/etc/whisper/kv.keys');
const sleep = async () => undefined;

let base: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-kv-enc-'));
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

const bundle = (serial: bigint) => {
  const b = makeBundle([ID], { serial });
  return { key: b.key, cert: b.cert, chain: b.chain };
};

describe('certificates in Consul KV with --kv-encryption-key-file', () => {
  it('the leader stores them encrypted: no private key in KV', async () => {
    const kv = fakeKv();
    const codec = kvCodec(ring(1));
    const store = createKvMirrorStore(createFolderStore(path.join(base, 'leader')), { api: kv.api, log: silentLogger(), sleep, codec });
    const b = bundle(1n);
    await store.write(ID, b);
    const value = kv.get(`${PREFIX}/${ID}`)!;
    expect(envelopeKeyId(value)).toBe('k1');
    expect(value).not.toContain('PRIVATE KEY');
    expect(codec.decode(`${PREFIX}/${ID}`, value)).toBe(combinedPem(b));
  });

  it('a follower decrypts them into its folder', async () => {
    const kv = fakeKv();
    const codec = kvCodec(ring(1));
    await createKvMirrorStore(createFolderStore(path.join(base, 'leader')), { api: kv.api, log: silentLogger(), sleep, codec }).write(ID, bundle(1n));
    const folder = createFolderStore(path.join(base, 'follower'));
    const { items } = await kv.api.kvList(`${PREFIX}/`);
    const pass = await applyItems({ api: kv.api, store: folder, log: silentLogger(), sleep, codec }, items);
    expect(pass.written).toEqual([ID]);
    expect(await fsp.readFile(path.join(base, 'follower', `${ID}.pem`), 'utf8')).toContain('PRIVATE KEY');
  });

  it('a follower without the key id copies nothing and says which KV key and key id', async () => {
    const kv = fakeKv();
    await createKvMirrorStore(createFolderStore(path.join(base, 'leader')), { api: kv.api, log: silentLogger(), sleep, codec: kvCodec(ring(2)) }).write(ID, bundle(1n));
    const raw: string[] = [];
    const log = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => void (raw.push(c.toString()), cb()) }) });
    const { items } = await kv.api.kvList(`${PREFIX}/`);
    const pass = await applyItems({ api: kv.api, store: createFolderStore(path.join(base, 'follower')), log, sleep, codec: kvCodec(ring(1)) }, items);
    expect(pass.written).toEqual([]);
    const warning = raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 40);
    expect(warning).toMatchObject({ key: `${PREFIX}/${ID}`, code: 'KV_DECRYPT' });
    expect(String(warning!.err)).toContain('"k2"');
  });

  it('a new leader rewrites values of an older key (or plaintext ones) with the current key, never older certificates over newer', async () => {
    const kv = fakeKv();
    const leaderFolder = createFolderStore(path.join(base, 'leader'));
    const old = kvCodec(ring(1));
    await createKvMirrorStore(leaderFolder, { api: kv.api, log: silentLogger(), sleep, codec: old }).write(ID, bundle(1n));
    await createKvMirrorStore(leaderFolder, { api: kv.api, log: silentLogger(), sleep, codec: kvCodec(undefined) }).write('b.example.com', makeBundle(['b.example.com']));
    const rotated = kvCodec(ring(2, 1));
    const options = { api: kv.api, log: silentLogger(), sleep, codec: rotated };
    const bundles = new Map((await kv.api.kvList(`${PREFIX}/`)).items.map((i) => [i.key.slice(PREFIX.length + 1), i.value]));
    expect(await publishFolder(leaderFolder, bundles, options)).toBe(2);
    expect(envelopeKeyId(kv.get(`${PREFIX}/${ID}`)!)).toBe('k2');
    expect(envelopeKeyId(kv.get(`${PREFIX}/b.example.com`)!)).toBe('k2');
    // Current values of the same certificates are left alone.
    const again = new Map((await kv.api.kvList(`${PREFIX}/`)).items.map((i) => [i.key.slice(PREFIX.length + 1), i.value]));
    expect(await publishFolder(leaderFolder, again, options)).toBe(0);
  });

  it('a new leader leaves a newer certificate of an older key in KV alone', async () => {
    const kv = fakeKv();
    const leaderFolder = createFolderStore(path.join(base, 'leader'));
    await leaderFolder.write(ID, bundle(1n));
    const key = makeKey();
    const newer = { key: key.pem, cert: makeCert({ subjectKey: key.privateKey, issuerKey: key.privateKey, names: [ID], notBefore: new Date('2026-02-01T00:00:00Z'), serial: 2n }), chain: '' };
    kv.put(`${PREFIX}/${ID}`, kvCodec(ring(1)).encode(`${PREFIX}/${ID}`, combinedPem(newer)));
    const bundles = new Map([[ID, kv.get(`${PREFIX}/${ID}`)!]]);
    expect(await publishFolder(leaderFolder, bundles, { api: kv.api, log: silentLogger(), sleep, codec: kvCodec(ring(2, 1)) })).toBe(0);
    expect(envelopeKeyId(kv.get(`${PREFIX}/${ID}`)!)).toBe('k1');
  });
});
