/**
 * Test certificates without external tools: a minimal DER writer for X.509 v3 (RSA or ECDSA, any
 * validity, DNS SANs), signed with node:crypto. Also reads the public key out of a CSR.
 */
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, body: Buffer): Buffer => tlv(0xa0 + n, body);
const octets = (body: Buffer): Buffer => tlv(0x04, body);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const bits = (body: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), body]));

function int(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));

function sigAlg(key: KeyObject): Buffer {
  return key.asymmetricKeyType === 'ec' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), tlv(0x05, Buffer.alloc(0)));
}

/** What {@link makeCert} makes. */
export interface CertSpec {
  /** Public (or private) key of the subject. */
  subjectKey: KeyObject;
  /** Private key that signs; the subject's own for a self-signed certificate. */
  issuerKey: KeyObject;
  subject?: string;
  issuer?: string;
  names?: string[];
  notBefore?: Date;
  notAfter?: Date;
  serial?: bigint;
  ca?: boolean;
}

/** A PEM certificate. */
export function makeCert(spec: CertSpec): string {
  const subject = spec.subject ?? spec.names?.[0] ?? 'test';
  const pub = spec.subjectKey.type === 'public' ? spec.subjectKey : createPublicKey(spec.subjectKey);
  const spki = pub.export({ type: 'spki', format: 'der' });
  const exts: Buffer[] = [];
  if (spec.names?.length) {
    exts.push(seq(oid('2.5.29.17'), octets(seq(...spec.names.map((n) => tlv(0x82, Buffer.from(n)))))));
  }
  if (spec.ca) exts.push(seq(oid('2.5.29.19'), bool(true), octets(seq(bool(true)))));
  const alg = sigAlg(spec.issuerKey);
  const tbs = seq(
    explicit(0, int(2n)),
    int(spec.serial ?? 0x1234abcdn),
    alg,
    name(spec.issuer ?? subject),
    seq(time(spec.notBefore ?? new Date('2026-01-01T00:00:00Z')), time(spec.notAfter ?? new Date('2026-04-01T00:00:00Z'))),
    name(subject),
    spki,
    ...(exts.length ? [explicit(3, seq(...exts))] : []),
  );
  const der = seq(tbs, alg, bits(sign('sha256', tbs, spec.issuerKey)));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** A key pair; `pem` is the PKCS#8 private key. */
export function makeKey(type: 'ec' | 'rsa' = 'ec'): { privateKey: KeyObject; pem: string } {
  const { privateKey } =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A CA and a leaf it signed, with PEMs ready for a `CertBundle`. */
export function makeBundle(
  names: string[],
  options: { keyType?: 'ec' | 'rsa'; caKeyType?: 'ec' | 'rsa'; notAfter?: Date; serial?: bigint } = {},
) {
  const ca = makeKey(options.caKeyType ?? 'ec');
  const leafKey = makeKey(options.keyType ?? 'ec');
  const caCert = makeCert({ subjectKey: ca.privateKey, issuerKey: ca.privateKey, subject: 'Test CA', ca: true });
  const cert = makeCert({
    subjectKey: leafKey.privateKey,
    issuerKey: ca.privateKey,
    issuer: 'Test CA',
    names,
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
    ...(options.serial ? { serial: options.serial } : {}),
  });
  return { key: leafKey.pem, cert, chain: caCert, caKey: ca.privateKey };
}

function readTlv(buf: Buffer, at: number): { start: number; end: number; next: number } {
  let len = buf[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    len = 0;
    for (let i = 0; i < count; i += 1) len = (len << 8) | (buf[start + i] ?? 0);
    start += count;
  }
  return { start, end: start + len, next: start + len };
}

/** The public key inside a PEM CSR (PKCS#10: info → version, subject, SPKI). */
export function csrPublicKey(csrPem: string): KeyObject {
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const info = readTlv(der, readTlv(der, 0).start);
  const version = readTlv(der, info.start);
  const subject = readTlv(der, version.next);
  const spkiAt = subject.next;
  const spki = readTlv(der, spkiAt);
  return createPublicKey({ key: der.subarray(spkiAt, spki.end), format: 'der', type: 'spki' });
}
