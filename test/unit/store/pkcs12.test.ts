import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFolderStore } from '../../../src/store/folder.js';
import { makeCert, makeKey } from './x509-fixture.js';

// The .p12 files are checked by the system's OpenSSL 3, the reader most tools build on.

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-p12-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa2048' | 'rsa4096';

function leafKey(type: KeyType): KeyObject {
  switch (type) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'rsa4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey;
  }
}

/** A leaf of `type` signed by an ECDSA CA (the chain Let's Encrypt's E-series intermediates give). */
function bundleOf(type: KeyType) {
  const ca = makeKey('ec');
  const key = leafKey(type);
  const chain = makeCert({ subjectKey: ca.privateKey, issuerKey: ca.privateKey, subject: 'Test CA', ca: true });
  const cert = makeCert({ subjectKey: key, issuerKey: ca.privateKey, issuer: 'Test CA', names: ['www.example.com'] });
  return { key: key.export({ type: 'pkcs8', format: 'pem' }).toString(), cert, chain };
}

function openssl(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const pemBlocks = (text: string, label: string): string[] =>
  text.match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g')) ?? [];

async function writeP12(type: KeyType, password?: string) {
  const bundle = bundleOf(type);
  const extra = path.join(dir, 'formats');
  const store = createFolderStore(dir, { formats: ['haproxy', 'pkcs12'], formatsDir: extra, ...(password === undefined ? {} : { pkcs12Password: password }) });
  await store.write('www.example.com', bundle);
  return { bundle, file: path.join(extra, 'www.example.com.p12') };
}

describe('PKCS#12 output', () => {
  it.each<KeyType>(['ecdsa-p256', 'ecdsa-p384', 'rsa2048', 'rsa4096'])(
    'writes a %s key and its chain that OpenSSL opens with the password, key encrypted, SHA-256 MAC, mode 0600',
    async (type) => {
      const { bundle, file } = await writeP12(type, 'pw');
      expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);

      const info = openssl('pkcs12', '-info', '-in', file, '-passin', 'pass:pw', '-noout');
      expect(info.status, info.stderr).toBe(0);
      expect(info.stderr).toMatch(/MAC: sha256/);
      expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);

      const out = openssl('pkcs12', '-in', file, '-passin', 'pass:pw', '-nodes');
      expect(out.status, out.stderr).toBe(0);
      const keys = pemBlocks(out.stdout, 'PRIVATE KEY');
      expect(keys).toHaveLength(1);
      expect(createPrivateKey(keys[0]!).equals(createPrivateKey(bundle.key))).toBe(true);
      const certs = pemBlocks(out.stdout, 'CERTIFICATE').map((pem) => new X509Certificate(pem).raw);
      expect(certs).toEqual([new X509Certificate(bundle.cert).raw, new X509Certificate(bundle.chain).raw]);
      // The leaf and the key are paired (localKeyID), and carry the id as their friendly name.
      expect(out.stdout.match(/friendlyName: www\.example\.com/g)).toHaveLength(2);
      expect(out.stdout.match(/localKeyID: /g)).toHaveLength(2);

      expect(openssl('pkcs12', '-info', '-in', file, '-passin', 'pass:wrong', '-noout').status).not.toBe(0);
    },
    30_000,
  );

  it('without a password opens with an empty one, the key still in an encrypted bag', async () => {
    const { bundle, file } = await writeP12('ecdsa-p256');
    const info = openssl('pkcs12', '-info', '-in', file, '-passin', 'pass:', '-noout');
    expect(info.status, info.stderr).toBe(0);
    expect(info.stderr).toMatch(/Shrouded Keybag: PBES2/);
    const out = openssl('pkcs12', '-in', file, '-passin', 'pass:', '-nodes');
    expect(out.status, out.stderr).toBe(0);
    expect(createPrivateKey(pemBlocks(out.stdout, 'PRIVATE KEY')[0]!).equals(createPrivateKey(bundle.key))).toBe(true);
    // The private scalar is nowhere in the file in clear.
    const d = Buffer.from(createPrivateKey(bundle.key).export({ format: 'jwk' }).d!, 'base64url');
    expect((await fsp.readFile(file)).includes(d)).toBe(false);
  });
});
