import { describe, it, expect } from 'vitest';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { checkImportPem } from '../../../src/ops/import-check.js';
import { makeCert, makeKey } from '../store/x509-fixture.js';

const NOW = Date.parse('2026-02-01T00:00:00Z');

/** A root, an intermediate it signed, a leaf the intermediate signed. */
function pki(names: string[] = ['www.example.com', 'example.com'], leafOptions: { subject?: string; notAfter?: Date; keyType?: 'ec' | 'rsa' } = {}) {
  const root = makeKey();
  const inter = makeKey();
  const leafKey = makeKey(leafOptions.keyType ?? 'ec');
  const rootCert = makeCert({ subjectKey: root.privateKey, issuerKey: root.privateKey, subject: 'Root', ca: true, notAfter: new Date('2030-01-01T00:00:00Z') });
  const interCert = makeCert({ subjectKey: inter.privateKey, issuerKey: root.privateKey, subject: 'Inter', issuer: 'Root', ca: true, serial: 2n });
  const leaf = makeCert({
    subjectKey: leafKey.privateKey,
    issuerKey: inter.privateKey,
    issuer: 'Inter',
    names,
    ...(leafOptions.subject ? { subject: leafOptions.subject } : {}),
    ...(leafOptions.notAfter ? { notAfter: leafOptions.notAfter } : {}),
    serial: 0xabcdef01n,
  });
  return { root, rootCert, inter, interCert, leafKey, leaf };
}

const fails = (name: string, pem: string, text: string) =>
  expect(() => checkImportPem(name, pem, NOW)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(new RegExp(`^${name.replace('.', '\\.')}: .*${text}`)) }));

describe('checkImportPem', () => {
  it('reads names, serial and expiry, and orders the chain from the leaf\'s issuer up whatever the file\'s order', () => {
    const p = pki(['WWW.example.com', 'example.com', 'www.example.com']);
    const got = checkImportPem('site.pem', [p.rootCert, p.leafKey.pem, p.interCert, p.leaf].join(''), NOW);
    expect(got.names).toEqual(['example.com', 'www.example.com']);
    expect(got.serial).toBe('ABCDEF01');
    expect(got.notAfter.toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(got.bundle.key).toBe(p.leafKey.pem);
    expect(new X509Certificate(got.bundle.cert).serialNumber.toUpperCase()).toBe('ABCDEF01');
    const chain = got.bundle.chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!.map((c) => new X509Certificate(c).subject);
    expect(chain).toEqual(['CN=Inter', 'CN=Root']);
  });

  it('takes a SEC1 EC key as it is and converts a PKCS#1 RSA key to PKCS#8', () => {
    const p = pki();
    const sec1 = createPrivateKey(p.leafKey.pem).export({ type: 'sec1', format: 'pem' }).toString();
    expect(checkImportPem('ec.pem', sec1 + p.leaf + p.interCert, NOW).bundle.key).toBe(sec1);
    const r = pki(['rsa.example.com'], { keyType: 'rsa' });
    const pkcs1 = createPrivateKey(r.leafKey.pem).export({ type: 'pkcs1', format: 'pem' }).toString();
    const key = checkImportPem('rsa.pem', pkcs1 + r.leaf + r.interCert, NOW).bundle.key;
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPrivateKey(key).asymmetricKeyType).toBe('rsa');
  });

  it('uses the common name only when the certificate has no DNS name', () => {
    const p = pki([], { subject: 'Legacy.Example.com' });
    expect(checkImportPem('cn.pem', p.leafKey.pem + p.leaf + p.interCert, NOW).names).toEqual(['legacy.example.com']);
  });

  it('needs exactly one private key, unencrypted', () => {
    const p = pki();
    fails('a.pem', p.leaf + p.interCert, 'no private key');
    fails('b.pem', p.leafKey.pem + makeKey().pem + p.leaf + p.interCert, '2 private keys');
    const encrypted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString();
    fails('c.pem', encrypted + p.leaf + p.interCert, 'encrypted');
  });

  it('needs the certificate of that key', () => {
    const p = pki();
    fails('a.pem', p.leafKey.pem, 'no certificate');
    fails('b.pem', makeKey().pem + p.leaf + p.interCert, 'no certificate matches the private key');
    fails('c.pem', p.leafKey.pem + p.leaf.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n') + p.interCert, 'certificate 1 of the file does not parse');
  });

  it('needs the chain, each certificate signed by the next, and nothing else', () => {
    const p = pki();
    fails('a.pem', p.leafKey.pem + p.leaf, 'no certificate of the file issued the certificate \\(issuer CN=Inter\\)');
    // Same name as the issuer, another key: the name matches, the signature does not.
    const impostor = makeCert({ subjectKey: makeKey().privateKey, issuerKey: p.root.privateKey, subject: 'Inter', issuer: 'Root', ca: true });
    fails('b.pem', p.leafKey.pem + p.leaf + impostor, 'no certificate of the file issued');
    const stray = makeCert({ subjectKey: makeKey().privateKey, issuerKey: p.root.privateKey, subject: 'Stray', issuer: 'Root' });
    fails('c.pem', p.leafKey.pem + p.leaf + p.interCert + stray, 'CN=Stray is not part of the certificate\'s chain');
  });

  it('refuses an expired certificate', () => {
    const p = pki(['old.example.com'], { notAfter: new Date('2026-01-15T00:00:00Z') });
    fails('old.pem', p.leafKey.pem + p.leaf + p.interCert, 'the certificate expired on 2026-01-15T00:00:00.000Z');
  });

  it('refuses names that are not hostnames', () => {
    const p = pki(['ok.example.com', 'bad_name.example.com']);
    fails('bad.pem', p.leafKey.pem + p.leaf + p.interCert, 'invalid hostname "bad_name.example.com"');
  });
});
