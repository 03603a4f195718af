import { describe, it, expect } from 'vitest';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { crypto as acmeCrypto } from 'acme-client';
import { createCsr, generateKey } from '../../../src/acme/keys.js';
import { csrPublicKey } from '../store/x509-fixture.js';

describe('generateKey', () => {
  it.each([
    ['ecdsa-p256', 'ec', { namedCurve: 'prime256v1' }],
    ['ecdsa-p384', 'ec', { namedCurve: 'secp384r1' }],
    ['rsa2048', 'rsa', { modulusLength: 2048 }],
    ['rsa4096', 'rsa', { modulusLength: 4096 }],
  ] as const)('%s makes a PKCS#8 PEM %s key', async (type, kind, details) => {
    const pem = await generateKey(type);
    expect(pem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    const key = createPrivateKey(pem);
    expect(key.asymmetricKeyType).toBe(kind);
    expect(key.asymmetricKeyDetails).toMatchObject(details);
  });

  it('makes a different key each time', async () => {
    expect(await generateKey('ecdsa-p256')).not.toBe(await generateKey('ecdsa-p256'));
  });
});

describe('createCsr', () => {
  it('names the first name as common name and all as SANs, signed by the key', async () => {
    const key = await generateKey('ecdsa-p256');
    const csr = await createCsr(['a.example.com', 'b.example.com', '*.example.com'], key);
    expect(csr).toContain('-----BEGIN CERTIFICATE REQUEST-----');
    const domains = acmeCrypto.readCsrDomains(csr);
    expect(domains.commonName).toBe('a.example.com');
    expect([...domains.altNames].sort()).toEqual(['*.example.com', 'a.example.com', 'b.example.com']);
    const expected = createPublicKey(key).export({ type: 'spki', format: 'der' });
    expect(csrPublicKey(csr).export({ type: 'spki', format: 'der' }).equals(expected)).toBe(true);
  });

  it('works with an RSA key', async () => {
    const key = await generateKey('rsa2048');
    const csr = await createCsr(['rsa.example.com'], key);
    expect(acmeCrypto.readCsrDomains(csr).altNames).toEqual(['rsa.example.com']);
  });

  it('leaves out a common name longer than 64 characters, keeping it as a SAN', async () => {
    const long = `${'a'.repeat(60)}.example.com`;
    const csr = await createCsr([long, 'short.example.com'], await generateKey('ecdsa-p256'));
    const domains = acmeCrypto.readCsrDomains(csr);
    expect(domains.commonName).toBeFalsy();
    expect([...domains.altNames].sort()).toEqual([long, 'short.example.com'].sort());
  });

  it('needs at least one name', async () => {
    await expect(createCsr([], await generateKey('ecdsa-p256'))).rejects.toThrow(TypeError);
  });
});
