import { describe, it, expect, inject } from 'vitest';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createZone, splitPem } from '../support/certs.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { daemonHarness } from '../support/harness.js';
import { eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import '../support/env-types.js';

// A folder as the last whisper left it: its PKCS#1 RSA account key in `.acme`, HAProxy files of PKCS#1 RSA keys, no
// state and no account URL file. whisper-ts takes it over without ordering anything and without touching a file.
const env = inject('env');
const { cleanups, daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'wf');

/** whisper wrote `private_bytes(TraditionalOpenSSL)` + leaf + chain: a PKCS#1 key, then the certificates. */
function asWhisperFile(pem: string): string {
  const { keys } = splitPem(pem);
  const key = createPrivateKey(keys[0]!).export({ type: 'pkcs1', format: 'pem' }).toString();
  const certs = pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'));
  return key + certs;
}

describe('a folder written by whisper', () => {
  it('is taken over as it is: same account, nothing ordered, no file changed', async () => {
    const t = await folderAndZone();
    const lone = `lone${uniq()}.whisper.test`;
    await createZone(env, lone);
    const args = [...dnsArgs(t.zone), '--allow-domain', lone, '--key-type', 'rsa2048'];
    const svc = `svc-${uniq()}`;
    const services: Array<[string, string[]]> = [
      [svc, [`dns=${t.zone}`, 'ssl=offloading']],
      [`a-${uniq()}`, [`dns=${t.zone}`, 'vhost=a', 'https=443']],
      [`b-${uniq()}`, [`dns=${t.zone}`, 'vhost=b', 'ssl=on']],
      [`www-${uniq()}`, [`dns=${lone}`, 'vhost=www', 'https=443']],
    ];
    const files = [`${svc}.${t.zone}.pem`, `multi-hosts.${t.zone}.pem`, `www.${lone}.pem`];

    // whisper's account key, as it wrote it (RSA 2048, PKCS#1), registered by the first run below as whisper did.
    await mkdir(t.folder, { recursive: true, mode: 0o700 });
    const accountKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    await writeFile(join(t.folder, '.acme'), accountKey, { mode: 0o600 });
    const first = daemon([t.folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...args]);
    for (const [name, tags] of services) await registerService(env, name, tags);
    for (const f of files) await eventually(f, () => fileOnce(join(t.folder, f)));
    expect(await first.stop()).toBe(0);

    // Now make it whisper's: its key format in every file, nothing of whisper-ts's own beside them.
    for (const f of files) await writeFile(join(t.folder, f), asWhisperFile(await readFile(join(t.folder, f), 'utf8')), { mode: 0o600 });
    for (const f of await readdir(t.folder)) if (f !== '.acme' && !files.includes(f)) await rm(join(t.folder, f), { recursive: true, force: true });
    const before = new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(t.folder, f), 'utf8')] as const)));

    const proxy: FaultProxy = await startFaultProxy(env.runDir, { url: new URL(env.pebble.directoryUrl).origin, caFile: env.pebble.tlsCaFile });
    cleanups.push(() => proxy.close());
    const w = daemon([t.folder, '--directory-url', `${proxy.url}/dir`, '--ca-bundle', proxy.caFile, ...args]);
    const ids = files.map((f) => f.slice(0, -'.pem'.length));
    const settled = () => ids.every((id) => w.logs.some((l) => l.cert === id && l.msg === 'certificate present and valid; nothing to order'));
    await eventually('every certificate checked', () => (settled() ? true : undefined), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${w.output().slice(-4000)}`);
    });

    const posts = (path: string) => proxy.seen.filter((s) => s.method === 'POST' && s.path.startsWith(path));
    expect(posts('/order-plz')).toEqual([]);
    // The account whisper registered is found again, never created anew.
    expect(posts('/sign-me-up').map((s) => s.status)).not.toContain(201);
    expect(w.logs.filter((l) => l.msg === 'ordering certificate')).toEqual([]);
    for (const [f, text] of before) expect(await readFile(join(t.folder, f), 'utf8'), f).toBe(text);
    expect(await readFile(join(t.folder, '.acme'), 'utf8')).toBe(accountKey);
    expect(await w.stop()).toBe(0);
  }, 120_000);
});
