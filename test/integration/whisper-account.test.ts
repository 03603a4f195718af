import { describe, it, expect, inject } from 'vitest';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAcmeClientFactory } from '../../src/acme/transport.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { daemonHarness } from '../support/harness.js';
import { eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const { cleanups, folderAndZone, dnsArgs } = daemonHarness(env, 'wa');
/** Pebble's newAccount resource. */
const NEW_ACCOUNT = '/sign-me-up';

/** Pebble behind a recording proxy: every POST's status and decoded JWS payload. */
async function recordedPebble(): Promise<{ proxy: FaultProxy; directoryUrl: string; caBundle: string }> {
  const upstream = new URL(env.pebble.directoryUrl);
  const proxy = await startFaultProxy(env.runDir, { url: upstream.origin, caFile: env.pebble.tlsCaFile });
  cleanups.push(() => proxy.close());
  return { proxy, directoryUrl: `${proxy.url}${upstream.pathname}`, caBundle: await readFile(proxy.caFile, 'utf8') };
}

/** The daemon with `HOME` set to `home` (so `~/.acme` is `<home>/.acme`). */
function daemon(args: string[], home: string, extraEnv: Record<string, string> = {}): WhisperProcess {
  const w = startWhisper(args, { HOME: home, ...extraEnv });
  cleanups.push(() => w.stop());
  return w;
}

async function tempHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'whisper-home-'));
  cleanups.push(() => rm(home, { recursive: true, force: true }));
  return home;
}

/** A file's bytes, mode, mtime and inode, to prove later that nothing touched it. */
async function snapshot(file: string) {
  const s = await stat(file);
  return { bytes: await readFile(file, 'utf8'), mode: s.mode, mtimeMs: s.mtimeMs, ino: s.ino };
}

describe('the account key of both whisper generations', () => {
  it('uses whisper\'s ~/.acme (PKCS#1 RSA, registered by whisper) as it is: its account is found, never registered again', async () => {
    const ca = await recordedPebble();
    // whisper's key: RSA 2048, PKCS#1 PEM, registered once, as whisper did.
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    const client = createAcmeClientFactory({ caBundle: ca.caBundle })({ directoryUrl: ca.directoryUrl, accountKey: key, what: 'whisper' });
    await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:whisper@example.com'] });
    const accountUrl = client.getAccountUrl();
    const home = await tempHome();
    const homeKey = join(home, '.acme');
    await writeFile(homeKey, key);
    await chmod(homeKey, 0o644);
    const before = await snapshot(homeKey);
    const registered = ca.proxy.seen.length;

    const t = await folderAndZone();
    const w = daemon([t.folder, '--directory-url', ca.directoryUrl, '--ca-bundle', ca.proxy.caFile, ...dnsArgs(t.zone)], home);
    const name = `old-${uniq()}`;
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=true']);
    const pem = await eventually('the certificate', () => fileOnce(join(t.folder, `${name}.${t.zone}.pem`)), 90_000);
    expect(pem).toContain('BEGIN CERTIFICATE');
    expect(await w.stop()).toBe(0);

    // No new account: the lookup carried onlyReturnExisting and the CA answered 200, never 201 (Pebble refuses a few
    // nonces at random: a 400 badNonce is sent again).
    const newAccount = ca.proxy.seen.slice(registered).filter((r) => r.method === 'POST' && r.path === NEW_ACCOUNT);
    expect(newAccount.every((r) => r.payload?.onlyReturnExisting === true)).toBe(true);
    expect(newAccount.filter((r) => r.status !== 400).map((r) => r.status)).toEqual([200]);
    // The account whisper registered is the one used, and its URL is kept in the folder, not beside the key.
    expect(w.logs.find((l) => l.msg === 'ACME account ready')?.accountUrl).toBe(accountUrl);
    const saved = JSON.parse(await readFile(join(t.folder, '.acme.json'), 'utf8')) as { urls: Record<string, string> };
    expect(saved.urls[ca.directoryUrl]).toBe(accountUrl);
    expect(w.logs.some((l) => l.msg === `ACME account key: ${homeKey} (found in the home folder (the last whisper's default ~/.acme), none in the certificate folder)`)).toBe(true);
    // ~/.acme is exactly as whisper left it, and no key was written into the folder.
    expect(await snapshot(homeKey)).toEqual(before);
    expect(await readdir(t.folder)).not.toContain('.acme');
  }, 150_000);

  it('-a to a file that does not exist: a new key is created there (0600) and registered; ~/.acme is not used', async () => {
    const ca = await recordedPebble();
    const home = await tempHome();
    const homeKey = join(home, '.acme');
    await writeFile(homeKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const before = await snapshot(homeKey);
    const t = await folderAndZone();
    const keyFile = join(t.base, 'keys', 'acme.pem');
    const w = daemon([t.folder, '-a', keyFile, '--directory-url', ca.directoryUrl, '--ca-bundle', ca.proxy.caFile, ...dnsArgs(t.zone)], home);
    await eventually('the account', () => w.logs.find((l) => l.msg === 'ACME account ready'), 60_000);
    expect(await w.stop()).toBe(0);

    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(createPrivateKey(await readFile(keyFile, 'utf8')).asymmetricKeyType).toBe('ec');
    // A key just generated is registered directly.
    const newAccount = ca.proxy.seen.filter((r) => r.method === 'POST' && r.path === NEW_ACCOUNT && r.status !== 400);
    expect(newAccount.map((r) => [r.status, r.payload?.onlyReturnExisting])).toEqual([[201, undefined]]);
    expect(await snapshot(homeKey)).toEqual(before);
    expect(await readdir(t.folder)).not.toContain('.acme');
  }, 90_000);

  it('a fresh folder, no key anywhere and no ACME_REGISTER_EMAIL: exits with a clear message', async () => {
    const home = await tempHome();
    const t = await folderAndZone();
    await mkdir(t.folder, { recursive: true });
    const w = daemon([t.folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...dnsArgs(t.zone)], home, { ACME_REGISTER_EMAIL: '' });
    expect(await w.exited).toBe(1);
    expect(w.output()).toMatch(/whisper-ts: no ACME account key \(\.acme in the certificate folder, ~\/\.acme or -a\): set ACME_REGISTER_EMAIL/);
    expect(await readdir(t.folder)).not.toContain('.acme');
    expect(await readdir(home)).toEqual([]);
  }, 60_000);
});
