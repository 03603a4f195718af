import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFolderStore } from '../../../src/store/folder.js';
import { nodeFs, type AtomicFs } from '../../../src/store/atomic.js';
import type { WhisperError } from '../../../src/errors.js';
import { makeBundle, makeKey } from './x509-fixture.js';
import { failure } from '../failure.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-store-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const mode = async (file: string): Promise<number> => (await fsp.stat(file)).mode & 0o777;
const errorOf = failure;

describe('folder store: certificates', () => {
  it('writes key, leaf and chain in one 0600 file in a new 0700 folder, and reads it back', async () => {
    const root = path.join(dir, 'a', 'certs');
    const store = createFolderStore(root);
    const bundle = makeBundle(['www.example.com', 'API.example.com'], { serial: 0xabcdef01n, notAfter: new Date('2026-03-01T12:00:00Z') });
    const stored = await store.write('multi-hosts.example.com', bundle);

    const file = path.join(root, 'multi-hosts.example.com.pem');
    const text = await fsp.readFile(file, 'utf8');
    expect(text).toBe(`${bundle.key.trimEnd()}\n${bundle.cert}${bundle.chain}`);
    expect(text.indexOf('PRIVATE KEY')).toBeLessThan(text.indexOf('BEGIN CERTIFICATE'));
    expect(await mode(file)).toBe(0o600);
    expect(await mode(root)).toBe(0o700);
    expect(stored).toEqual({
      id: 'multi-hosts.example.com',
      path: file,
      names: ['api.example.com', 'www.example.com'],
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2026-03-01T12:00:00Z'),
      serial: 'ABCDEF01',
      issuer: 'CN=Test CA',
      cert: bundle.cert,
    });
    expect(await store.read('multi-hosts.example.com')).toEqual(stored);
    expect(await store.read('other.example.com')).toBeUndefined();
  });

  it('replaces an existing certificate and leaves no temporary file', async () => {
    const store = createFolderStore(dir);
    await store.write('www.example.com', makeBundle(['www.example.com'], { serial: 1n }));
    await store.write('www.example.com', makeBundle(['www.example.com'], { serial: 2n }));
    expect((await store.read('www.example.com'))?.serial).toBe('02');
    expect(await fsp.readdir(dir)).toEqual(['www.example.com.pem']);
  });

  it.each(['../evil', 'a/b.example.com', 'a\\b', '.hidden.example.com', 'a..b.example.com', 'WWW.example.com', '', 'www.example.com.', '-a.example.com', 'x'.repeat(252)])(
    'refuses the id %j and writes nothing',
    async (id) => {
      const store = createFolderStore(dir);
      const err = await errorOf(store.write(id, makeBundle(['www.example.com'])));
      expect(err.code).toBe('HOSTNAME_INVALID');
      expect(await fsp.readdir(dir)).toEqual([]);
      expect((await errorOf(store.read(id))).code).toBe('HOSTNAME_INVALID');
    },
  );

  it('accepts punycode and multi-hosts ids', async () => {
    const store = createFolderStore(dir);
    await store.write('xn--bcher-kva.example.com', makeBundle(['xn--bcher-kva.example.com']));
    await store.write('multi-hosts.zone-1.example.com', makeBundle(['a.zone-1.example.com']));
    expect((await store.list()).map((c) => c.id)).toEqual(['multi-hosts.zone-1.example.com', 'xn--bcher-kva.example.com']);
  });

  it('refuses a key that does not match the certificate, writing nothing', async () => {
    const store = createFolderStore(dir);
    const bundle = { ...makeBundle(['www.example.com']), key: makeKey('ec').pem };
    const err = await errorOf(store.write('www.example.com', bundle));
    expect(err.code).toBe('STORE_WRITE');
    expect(err.message).toContain('does not match');
    expect(err.message).not.toContain('PRIVATE KEY');
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it('refuses a certificate that does not parse, or a missing key', async () => {
    const store = createFolderStore(dir);
    const good = makeBundle(['www.example.com']);
    const broken = good.cert.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n');
    expect((await errorOf(store.write('www.example.com', { ...good, cert: broken }))).code).toBe('STORE_WRITE');
    expect((await errorOf(store.write('www.example.com', { ...good, cert: 'not a pem' }))).code).toBe('STORE_WRITE');
    expect((await errorOf(store.write('www.example.com', { ...good, key: 'nope' }))).code).toBe('STORE_WRITE');
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it('keeps the old file intact and removes the temporary file when the rename fails', async () => {
    const old = makeBundle(['www.example.com'], { serial: 1n });
    await createFolderStore(dir).write('www.example.com', old);
    const before = await fsp.readFile(path.join(dir, 'www.example.com.pem'), 'utf8');
    const failing: AtomicFs = { ...nodeFs, rename: () => Promise.reject(new Error('EIO: injected')) };
    const err = await errorOf(createFolderStore(dir, { fs: failing }).write('www.example.com', makeBundle(['www.example.com'], { serial: 2n })));
    expect(err.code).toBe('STORE_WRITE');
    expect(await fsp.readFile(path.join(dir, 'www.example.com.pem'), 'utf8')).toBe(before);
    expect(await fsp.readdir(dir)).toEqual(['www.example.com.pem']);
  });

  it('keeps the old file intact when writing the temporary file fails half-way', async () => {
    const old = makeBundle(['www.example.com'], { serial: 1n });
    await createFolderStore(dir).write('www.example.com', old);
    const before = await fsp.readFile(path.join(dir, 'www.example.com.pem'), 'utf8');
    let tmpSeen = '';
    const failing: AtomicFs = {
      ...nodeFs,
      open: (async (file: string, flags?: string, m?: number) => {
        const fh = await fsp.open(file, flags, m);
        if (flags !== 'wx') return fh;
        tmpSeen = file;
        return new Proxy(fh, {
          get(target, prop) {
            if (prop === 'writeFile') {
              return async (data: string) => {
                await target.writeFile(String(data).slice(0, 10));
                throw new Error('ENOSPC: injected');
              };
            }
            const value = Reflect.get(target, prop) as unknown;
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      }) as AtomicFs['open'],
    };
    const err = await errorOf(createFolderStore(dir, { fs: failing }).write('www.example.com', makeBundle(['www.example.com'], { serial: 2n })));
    expect(err.code).toBe('STORE_WRITE');
    expect(path.basename(tmpSeen)).toMatch(/^\.www\.example\.com\.pem\.[0-9a-f]+\.tmp$/);
    expect(path.dirname(tmpSeen)).toBe(dir);
    expect(await fsp.readFile(path.join(dir, 'www.example.com.pem'), 'utf8')).toBe(before);
    expect(await fsp.readdir(dir)).toEqual(['www.example.com.pem']);
  });

  it('reports a corrupt file from read as STORE_CORRUPT and from list through onProblem, deleting nothing', async () => {
    // A clock inside the fixture certificates' lifetime: expired ones are reported too.
    const store = createFolderStore(dir, { now: () => Date.parse('2026-02-01T00:00:00Z') });
    await store.write('good.example.com', makeBundle(['good.example.com']));
    await fsp.writeFile(path.join(dir, 'garbage.example.com.pem'), 'hello');
    await fsp.writeFile(path.join(dir, 'key-only.example.com.pem'), makeKey().pem);
    const broken = makeBundle(['x.example.com']);
    await fsp.writeFile(path.join(dir, 'broken.example.com.pem'), broken.key + broken.cert.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!'));
    await fsp.writeFile(path.join(dir, 'Upper.pem'), broken.key + broken.cert);
    await fsp.writeFile(path.join(dir, 'notes.txt'), 'x');
    await fsp.writeFile(path.join(dir, '.acme'), makeKey().pem);
    await fsp.writeFile(path.join(dir, '.hidden.pem'), 'x');
    await fsp.mkdir(path.join(dir, 'folder.example.com.pem'));

    expect((await errorOf(store.read('garbage.example.com'))).code).toBe('STORE_CORRUPT');
    expect((await errorOf(store.read('key-only.example.com'))).code).toBe('STORE_CORRUPT');
    const problems: [string, string][] = [];
    const list = await store.list((file, err) => problems.push([path.basename(file), (err as WhisperError).code]));
    expect(list.map((c) => c.id)).toEqual(['good.example.com']);
    expect(problems.sort()).toEqual([
      ['Upper.pem', 'HOSTNAME_INVALID'],
      ['broken.example.com.pem', 'STORE_CORRUPT'],
      ['garbage.example.com.pem', 'STORE_CORRUPT'],
      ['key-only.example.com.pem', 'STORE_CORRUPT'],
    ]);
    expect(await fsp.readFile(path.join(dir, 'garbage.example.com.pem'), 'utf8')).toBe('hello');
  });

  it('reports expired certificates and single-host files for other names from list, still listing and keeping them', async () => {
    const store = createFolderStore(dir, { now: () => Date.parse('2026-05-01T00:00:00Z') });
    await store.write('live.example.com', makeBundle(['live.example.com'], { notAfter: new Date('2026-08-01T00:00:00Z') }));
    await store.write('old.example.com', makeBundle(['old.example.com']));
    const other = makeBundle(['other.example.org'], { notAfter: new Date('2026-08-01T00:00:00Z') });
    await fsp.writeFile(path.join(dir, 'imposter.example.com.pem'), other.key + other.cert + other.chain);
    await store.write('multi-hosts.example.com', makeBundle(['a.example.com', 'b.example.com'], { notAfter: new Date('2026-08-01T00:00:00Z') }));
    const problems: [string, string][] = [];
    const list = await store.list((file, err) => problems.push([path.basename(file), err.message]));
    expect(list.map((c) => c.id)).toEqual(['imposter.example.com', 'live.example.com', 'multi-hosts.example.com', 'old.example.com']);
    expect(problems.sort()).toEqual([
      ['imposter.example.com.pem', expect.stringContaining('the certificate is for [other.example.org], not imposter.example.com')],
      ['old.example.com.pem', expect.stringContaining('the certificate expired on 2026-04-01T00:00:00.000Z')],
    ]);
    expect((await fsp.readdir(dir)).sort()).toEqual(['imposter.example.com.pem', 'live.example.com.pem', 'multi-hosts.example.com.pem', 'old.example.com.pem']);
  });

  it('lists an empty result for a folder that does not exist yet', async () => {
    expect(await createFolderStore(path.join(dir, 'missing')).list()).toEqual([]);
  });
});
