import { X509Certificate, createHash, createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import forge from 'node-forge';

// A PKCS#12 file (RFC 7292) for any key node:crypto reads (RSA, ECDSA P-256/P-384, Ed25519). node-forge's
// `toPkcs12Asn1` only takes RSA keys and certificates with RSA keys, so the PFX is assembled here with forge's
// ASN.1 writer: the key bag is node:crypto's EncryptedPrivateKeyInfo, the certificates plain certBags (as forge
// writes them), and the integrity MAC HMAC-SHA256 with the RFC 7292 key derivation, as OpenSSL 3 writes it.

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

/** PBKDF2 and MAC iterations: OpenSSL's default (`PKCS12_DEFAULT_ITER`). */
const ITERATIONS = 2048;
/** MAC salt length in bytes. */
const MAC_SALT_BYTES = 16;
/** RFC 7292 B.3: the diversifier of a MAC key. */
const MAC_KEY_ID = 3;

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

/** What goes into a PKCS#12 file. */
export interface Pkcs12Input {
  /** The private key, PEM (PKCS#8, SEC1 or PKCS#1). A secret. */
  readonly key: string;
  /** The leaf certificate, PEM; it is paired with the key. */
  readonly leaf: string;
  /** Chain certificates, PEM, in order. */
  readonly chain: readonly string[];
  /** Friendly name of the key and the leaf (the certificate id). */
  readonly friendlyName: string;
}

const U = asn1.Class.UNIVERSAL;
const seq = (...items: Asn1[]): Asn1 => asn1.create(U, asn1.Type.SEQUENCE, true, items);
const set = (...items: Asn1[]): Asn1 => asn1.create(U, asn1.Type.SET, true, items);
const oid = (dotted: string): Asn1 => asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(dotted).getBytes());
const octets = (bytes: Uint8Array): Asn1 => asn1.create(U, asn1.Type.OCTETSTRING, false, Buffer.from(bytes).toString('binary'));
const int = (n: number): Asn1 => asn1.create(U, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes());
const explicit0 = (item: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [item]);
const der = (item: Asn1): Buffer => Buffer.from(asn1.toDer(item).getBytes(), 'binary');
const fromDer = (bytes: Uint8Array): Asn1 => asn1.fromDer(Buffer.from(bytes).toString('binary'));

/** A PKCS#7 `data` ContentInfo holding `content`'s DER. */
const dataInfo = (content: Asn1): Asn1 => seq(oid(OID.data), explicit0(octets(der(content))));

/**
 * The DER bytes of a PKCS#12 file holding `input`'s key and certificates. The key bag is encrypted
 * (PBES2: PBKDF2 with HMAC-SHA256, AES-256-CBC); the certificates are not (they are public); the whole is
 * protected by an HMAC-SHA256 MAC. Without a password the empty one is used, as `openssl pkcs12 -passout pass:`
 * does: any reader opens the file without asking, and the key bag is still encrypted.
 */
export function toPkcs12Der(input: Pkcs12Input, password = ''): Buffer {
  const leaf = new X509Certificate(input.leaf).raw;
  const chain = input.chain.map((pem) => new X509Certificate(pem).raw);
  // forge's choice, kept: the key and its certificate are paired by the SHA-1 of the certificate.
  const localKeyId = createHash('sha1').update(leaf).digest();
  const attrs = set(
    seq(oid(OID.localKeyId), set(octets(localKeyId))),
    seq(oid(OID.friendlyName), set(asn1.create(U, asn1.Type.BMPSTRING, false, input.friendlyName))),
  );

  const certBag = (cert: Buffer, withAttrs: boolean): Asn1 =>
    seq(oid(OID.certBag), explicit0(seq(oid(OID.x509Certificate), explicit0(octets(cert)))), ...(withAttrs ? [attrs] : []));
  const certs = dataInfo(seq(certBag(leaf, true), ...chain.map((c) => certBag(c, false))));

  const shrouded = createPrivateKey(input.key).export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: password });
  const keys = dataInfo(seq(seq(oid(OID.pkcs8ShroudedKeyBag), explicit0(fromDer(shrouded)), attrs)));

  const authSafe = der(seq(certs, keys));
  const salt = randomBytes(MAC_SALT_BYTES);
  const macKey = forge.pkcs12.generateKey(
    password,
    forge.util.createBuffer(salt.toString('binary')),
    MAC_KEY_ID,
    ITERATIONS,
    32,
    forge.md.sha256.create(),
  );
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary')).update(authSafe).digest();
  const macData = seq(seq(seq(oid(OID.sha256), asn1.create(U, asn1.Type.NULL, false, '')), octets(mac)), octets(salt), int(ITERATIONS));

  return der(seq(int(3), seq(oid(OID.data), explicit0(octets(authSafe))), macData));
}
