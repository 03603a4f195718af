import { describe, it, expect, inject } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitPem } from '../support/certs.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, cleanupAfterAll } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();

describe('extra output formats', () => {
  it('--format pkcs12 with the default ECDSA key: a 0600 .p12 in the formats folder that OpenSSL opens without a password', async () => {
    const base = await mkdtemp(join(tmpdir(), 'whisper-formats-'));
    dirs.push(base);
    const secretFile = join(base, 'tsig.secret');
    await writeFile(secretFile, env.bind.tsig.secret, { mode: 0o600 });
    const folder = join(base, 'certs');
    const w = startWhisper([folder, ...envArgs(env), '--format', 'haproxy', '--format', 'pkcs12', '--dns-provider', 'rfc2136',
      '--rfc2136-server', env.bind.addr, '--rfc2136-tsig-name', env.bind.tsig.name, '--rfc2136-tsig-algorithm', env.bind.tsig.algorithm,
      '--rfc2136-tsig-secret-file', secretFile, '--allow-domain', env.bind.zone, '--notify', `whisper-tests/${uniq()}`]);
    running.push(w);
    const name = `p${uniq()}`;
    const id = `${name}.${env.bind.zone}`;
    await registerService(env, name, [`dns=${env.bind.zone}`, 'ssl=offloading']);
    const pem = await eventually('the PEM file', () => fileOnce(join(folder, `${id}.pem`)));
    const p12 = join(folder, 'formats', `${id}.p12`);
    // The .p12 is written before the PEM file, so it is there now.
    expect((await stat(p12)).mode & 0o777).toBe(0o600);

    const info = spawnSync('openssl', ['pkcs12', '-info', '-in', p12, '-passin', 'pass:', '-noout'], { encoding: 'utf8' });
    expect(info.status, info.stderr).toBe(0);
    expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    const out = spawnSync('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:', '-nodes'], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const fromP12 = splitPem(out.stdout);
    const fromPem = splitPem(pem);
    expect(fromP12.keys).toHaveLength(1);
    expect(createPrivateKey(fromP12.keys[0]!).equals(createPrivateKey(fromPem.keys[0]!))).toBe(true);
    expect(createPrivateKey(fromPem.keys[0]!).asymmetricKeyType).toBe('ec');
    expect(fromP12.certs.map((c) => c.raw)).toEqual(fromPem.certs.map((c) => c.raw));
    expect(w.logs.filter((l) => /PKCS#12/.test(String(l.msg)))).toEqual([]);
    expect(await w.stop()).toBe(0);
  });
});
