import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createFolderStore } from '../../../src/store/folder.js';
import { isWhisperKey, jwkThumbprint, keyThumbprint, sameKey } from '../../../src/store/account-key.js';
import { createLogger } from '../../../src/log.js';
import { makeKey } from './x509-fixture.js';
import { failure } from '../failure.js';

const DIR_URL = 'https://acme.example/directory';
const ACCT = 'https://acme.example/acct/1';

let base: string;
let folder: string;
let home: string;
beforeEach(async () => {
  base = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-user-key-'));
  folder = path.join(base, 'certs');
  home = path.join(base, 'home');
  await fsp.mkdir(home);
});
afterEach(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

/** An account key as whisper wrote it: RSA 2048, PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`). */
function whisperKey(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

/** Writes a key file as whisper left it (mode 0644 from its umask); `unchanged()` checks bytes, mode and inode. */
async function userKey(file: string, key = whisperKey()) {
  await fsp.mkdir(path.dirname(file), { recursive: true });
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

const urlsJson = async () => JSON.parse(await fsp.readFile(path.join(folder, '.acme.json'), 'utf8')) as { thumbprint?: string; urls: Record<string, string> };

describe('account key thumbprints and whisper\'s format', () => {
  it('computes the RFC 7638 thumbprint (its section 3.1 example)', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    expect(jwkThumbprint({ kty: 'RSA', n, e: 'AQAB', alg: 'RS256', kid: '2011-04-29' })).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('gives a key the same thumbprint in PKCS#1 and PKCS#8, another key another one; tells whisper\'s format', () => {
    const pkcs1 = whisperKey();
    const pkcs8 = createPrivateKey(pkcs1).export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(keyThumbprint(pkcs1)).toBe(keyThumbprint(pkcs8));
    expect(keyThumbprint(makeKey().pem)).not.toBe(keyThumbprint(pkcs1));
    expect(keyThumbprint('nope')).toBeUndefined();
    expect([isWhisperKey(pkcs1), isWhisperKey(pkcs8), isWhisperKey(makeKey().pem)]).toEqual([true, false, false]);
  });

  it('tells the same key in PKCS#1 and PKCS#8, and comparing with an EC key leaves whisper\'s key parseable', () => {
    const pkcs1 = whisperKey();
    const pkcs8 = createPrivateKey(pkcs1).export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(sameKey(pkcs1, pkcs8)).toBe(true);
    // KeyObject.equals(RSA, EC) left an OpenSSL error that failed the next PKCS#1 parse once.
    expect(sameKey(pkcs1, makeKey().pem)).toBe(false);
    expect(() => createPrivateKey(pkcs1)).not.toThrow();
    expect(sameKey(pkcs1, 'nope')).toBe(false);
  });
});

describe('folder store: an account key the user gave (~/.acme, -a)', () => {
  it('uses whisper\'s ~/.acme as it is, says so, and keeps its URLs in <folder>/.acme.json with its thumbprint', async () => {
    const k = await userKey(path.join(home, '.acme'));
    const { log, lines } = logLines();
    const store = createFolderStore(folder, { homeDir: home, log });
    expect(await store.readAccount()).toEqual({ key: k.key, urls: {} });
    await store.writeAccount({ key: k.key, urls: { [DIR_URL]: ACCT } });
    expect(await store.readAccount()).toEqual({ key: k.key, urls: { [DIR_URL]: ACCT } });
    await k.unchanged();
    expect(await fsp.readdir(folder)).toEqual(['.acme.json']);
    expect(await urlsJson()).toEqual({ thumbprint: keyThumbprint(k.key), urls: { [DIR_URL]: ACCT } });
    const info = lines().filter((l) => String(l.msg).startsWith('ACME account key:'));
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({ level: 30, file: k.file, source: 'home' });
    expect(String(info[0]?.msg)).toContain('~/.acme');
  });

  it('-a to a missing file: the new key is created there (0600, folder created), its URLs in the folder', async () => {
    const file = path.join(base, 'keys', 'acme.pem');
    await userKey(path.join(home, '.acme'));
    const store = createFolderStore(folder, { homeDir: home, accountKeyFile: file });
    expect(await store.readAccount()).toBeUndefined();
    const key = makeKey().pem;
    await store.writeAccount({ key, urls: {} });
    expect(await fsp.readFile(file, 'utf8')).toBe(key);
    expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
    await store.writeAccount({ key, urls: { [DIR_URL]: ACCT } });
    expect(await store.readAccount()).toEqual({ key, urls: { [DIR_URL]: ACCT } });
    expect(await fsp.readdir(folder)).toEqual(['.acme.json']);
  });

  it('never replaces a key file the user gave, nor whisper\'s key in the folder, even as a cache of the cluster\'s (--ha)', async () => {
    const cluster = { key: makeKey().pem, urls: { [DIR_URL]: 'https://acme.example/acct/9' } };
    const inHome = await userKey(path.join(home, '.acme'));
    const fromHome = createFolderStore(folder, { homeDir: home });
    await fromHome.writeAccount({ key: inHome.key, urls: { [DIR_URL]: ACCT } });
    const err = await failure(fromHome.replaceAccount!(cluster));
    expect(err.code).toBe('ACME_ACCOUNT');
    expect(err.message).toContain(inHome.file);
    expect((await failure(fromHome.writeAccount(cluster))).code).toBe('ACME_ACCOUNT');
    await inHome.unchanged();
    expect(await fromHome.readAccount()).toEqual({ key: inHome.key, urls: { [DIR_URL]: ACCT } });
    expect(await fsp.readdir(folder)).toEqual(['.acme.json']);

    const given = await userKey(path.join(base, 'given.pem'), makeKey().pem);
    const fromOption = createFolderStore(folder, { accountKeyFile: given.file });
    expect((await failure(fromOption.replaceAccount!(cluster))).message).toContain(given.file);
    await given.unchanged();

    const whisper = await userKey(path.join(folder, '.acme'));
    const fromFolder = createFolderStore(folder, { homeDir: home });
    expect((await failure(fromFolder.replaceAccount!(cluster))).message).toMatch(/whisper's format/);
    await whisper.unchanged();
    expect((await fsp.readdir(folder)).sort()).toEqual(['.acme', '.acme.json']);
    // The same key only gets its URLs: the key file is not written.
    await fromFolder.replaceAccount!({ key: whisper.key, urls: { [DIR_URL]: ACCT } });
    await whisper.unchanged();
    expect((await fromFolder.readAccount())?.urls).toEqual({ [DIR_URL]: ACCT });
  });

  it('never uses URLs saved for another key: a thumbprint that does not match, or an old file beside no folder key', async () => {
    const k = await userKey(path.join(home, '.acme'));
    await fsp.mkdir(folder);
    const other = makeKey().pem;
    await fsp.writeFile(path.join(folder, '.acme.json'), JSON.stringify({ thumbprint: keyThumbprint(other), urls: { [DIR_URL]: ACCT } }));
    const store = createFolderStore(folder, { homeDir: home });
    expect(await store.readAccount()).toEqual({ key: k.key, urls: {} });
    // An .acme.json written before thumbprints: its URLs were the folder's .acme's, not ~/.acme's.
    await fsp.writeFile(path.join(folder, '.acme.json'), JSON.stringify({ urls: { [DIR_URL]: ACCT } }));
    expect(await store.readAccount()).toEqual({ key: k.key, urls: {} });
    // Beside the folder's own .acme it still loads.
    await fsp.writeFile(path.join(folder, '.acme'), other);
    expect(await store.readAccount()).toEqual({ key: other, urls: { [DIR_URL]: ACCT } });
    await k.unchanged();
  });

  it('an existing -a key file is used wherever it is; a directory there is ACME_ACCOUNT', async () => {
    const given = await userKey(path.join(base, 'ro', 'acme'));
    await fsp.mkdir(folder);
    await fsp.writeFile(path.join(folder, '.acme'), makeKey().pem);
    const store = createFolderStore(folder, { homeDir: home, accountKeyFile: given.file });
    expect((await store.readAccount())?.key).toBe(given.key);
    const dir = path.join(base, 'mounted');
    await fsp.mkdir(dir);
    const err = await failure(createFolderStore(folder, { accountKeyFile: dir }).readAccount());
    expect([err.code, err.message.includes(dir)]).toEqual(['ACME_ACCOUNT', true]);
  });
});
