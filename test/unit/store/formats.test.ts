import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import forge from 'node-forge';
import { createFolderStore } from '../../../src/store/folder.js';
import { createLogger } from '../../../src/log.js';
import { makeBundle } from './x509-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-formats-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const mode = async (file: string): Promise<number> => (await fsp.stat(file)).mode & 0o777;

function capture(): { lines: string[]; destination: Writable } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination };
}

describe('folder store: extra formats', () => {
  it('writes only the HAProxy file by default', async () => {
    await createFolderStore(dir).write('www.example.com', makeBundle(['www.example.com'], { keyType: 'rsa' }));
    expect(await fsp.readdir(dir)).toEqual(['www.example.com.pem']);
  });

  it("writes certbot's layout with a 0600 privkey.pem", async () => {
    const bundle = makeBundle(['www.example.com']);
    await createFolderStore(dir, { formats: ['haproxy', 'certbot'] }).write('www.example.com', bundle);
    const sub = path.join(dir, 'www.example.com');
    expect((await fsp.readdir(sub)).sort()).toEqual(['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']);
    expect(await fsp.readFile(path.join(sub, 'cert.pem'), 'utf8')).toBe(bundle.cert);
    expect(await fsp.readFile(path.join(sub, 'chain.pem'), 'utf8')).toBe(bundle.chain);
    expect(await fsp.readFile(path.join(sub, 'fullchain.pem'), 'utf8')).toBe(bundle.cert + bundle.chain);
    expect(await fsp.readFile(path.join(sub, 'privkey.pem'), 'utf8')).toBe(bundle.key);
    expect(await mode(path.join(sub, 'privkey.pem'))).toBe(0o600);
    expect(await mode(sub)).toBe(0o700);
    // list() ignores the certbot folder.
    expect((await createFolderStore(dir).list()).map((c) => c.id)).toEqual(['www.example.com']);
  });

  it('writes a PKCS#12 file (0600) that node-forge reads too, into formatsDir when given', async () => {
    const bundle = makeBundle(['www.example.com'], { keyType: 'rsa', caKeyType: 'rsa' });
    const extra = path.join(dir, 'p12');
    await createFolderStore(dir, { formats: ['pkcs12'], formatsDir: extra, pkcs12Password: 'pw' }).write('www.example.com', bundle);
    const file = path.join(extra, 'www.example.com.p12');
    expect(await mode(file)).toBe(0o600);
    const der = await fsp.readFile(file);
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der.toString('binary')), 'pw');
    const certBagOid = forge.pki.oids.certBag as string;
    const keyBagOid = forge.pki.oids.pkcs8ShroudedKeyBag as string;
    const certBags: forge.pkcs12.Bag[] = p12.getBags({ bagType: certBagOid })[certBagOid] ?? [];
    const keyBags: forge.pkcs12.Bag[] = p12.getBags({ bagType: keyBagOid })[keyBagOid] ?? [];
    expect(keyBags).toHaveLength(1);
    const pems = certBags.map((bag) => forge.pki.certificateToPem(bag.cert as forge.pki.Certificate).replace(/\r/g, ''));
    expect(pems).toEqual([bundle.cert, bundle.chain]);
    const key = keyBags[0]?.key as forge.pki.rsa.PrivateKey;
    expect(forge.pki.privateKeyToPem(key)).toContain('RSA PRIVATE KEY');
    expect(await fsp.readdir(dir)).toEqual(['p12', 'www.example.com.pem']);
  });

  it('writes the PKCS#12 file of an ECDSA key with an ECDSA chain, without a warning', async () => {
    const { lines, destination } = capture();
    const store = createFolderStore(dir, { formats: ['haproxy', 'pkcs12'], log: createLogger({ destination }) });
    await store.write('www.example.com', makeBundle(['www.example.com']));
    expect((await fsp.readdir(dir)).sort()).toEqual(['www.example.com.p12', 'www.example.com.pem']);
    expect(await mode(path.join(dir, 'www.example.com.p12'))).toBe(0o600);
    expect(lines).toEqual([]);
  });
});
