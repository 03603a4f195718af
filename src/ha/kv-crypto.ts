/**
 * Encryption at rest of the secrets whisper-ts keeps in Consul KV (certificate bundles, the ACME account):
 * AES-256-GCM with keys from `--kv-encryption-key-file`, one random 12-byte IV per value, the key id in each value
 * and the KV key authenticated with it. Pure functions; the caller reads the file and talks to Consul.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { WhisperError } from '../errors.js';

/** The start of every encrypted value: `whisper-enc:v1:<key-id>:<iv b64>:<tag b64>:<ciphertext b64>`. */
export const ENVELOPE_PREFIX = 'whisper-enc:v1:';

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_BYTES = 32;
const IV_BYTES = 12;

/** The keys of a key file. Holds them out of sight: printing or serialising it shows the ids only. */
export interface Keyring {
  /** The file the keys came from (for messages). */
  readonly file: string;
  /** The id new values are encrypted with: the file's first key. */
  readonly writeId: string;
  /** Every key id, in the file's order. */
  readonly ids: readonly string[];
  /** The key of `id`, or `undefined`. A secret. */
  key(id: string): Buffer | undefined;
}

/**
 * Parses a key file: one key a line, `<key-id>:<base64 of 32 bytes>`; blank lines and `#` comments are skipped.
 * The first key encrypts new values, the others only decrypt (rotation). Throws `CONFIG_INVALID` naming the file
 * and the line, never a key.
 */
export function parseKeyFile(text: string, file: string): Keyring {
  const keys = new Map<string, Buffer>();
  const bad = (line: number, why: string) => new WhisperError('CONFIG_INVALID', `--kv-encryption-key-file: ${file} line ${line}: ${why}`);
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) throw bad(i + 1, 'expected <key-id>:<base64 key>');
    const id = line.slice(0, colon).trim();
    const b64 = line.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) throw bad(i + 1, 'the key id must be 1 to 64 characters of A-Z a-z 0-9 . _ -');
    if (keys.has(id)) throw bad(i + 1, `key id "${id}" appears twice`);
    if (!BASE64.test(b64)) throw bad(i + 1, `the key of "${id}" is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== KEY_BYTES) throw bad(i + 1, `the key of "${id}" is ${key.length} bytes, not ${KEY_BYTES} bytes (AES-256)`);
    keys.set(id, key);
  });
  const ids = [...keys.keys()];
  if (ids.length === 0) throw new WhisperError('CONFIG_INVALID', `--kv-encryption-key-file: ${file} holds no key (expected lines <key-id>:<base64 of ${KEY_BYTES} bytes>)`);
  return { file, writeId: ids[0]!, ids, key: (id) => keys.get(id) };
}

/** Whether a key file's mode lets anyone but its owner read it, or its owner write it (0600 and 0400 are fine). */
export function keyFileModeProblem(mode: number): boolean {
  const perm = mode & 0o777;
  return perm !== 0o600 && perm !== 0o400;
}

// The KV key and the key id are authenticated with each value: a value copied to another key does not decrypt.
const aad = (id: string, kvKey: string) => Buffer.from(`${ENVELOPE_PREFIX}${id}:${kvKey}`, 'utf8');

/** `plaintext` sealed for the KV key `kvKey` with the keyring's write key and `iv` (random by default). */
export function encryptValue(keyring: Keyring, kvKey: string, plaintext: string, iv: Buffer = randomBytes(IV_BYTES)): string {
  const id = keyring.writeId;
  const cipher = createCipheriv('aes-256-gcm', keyring.key(id)!, iv);
  cipher.setAAD(aad(id, kvKey));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${ENVELOPE_PREFIX}${id}:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${body.toString('base64')}`;
}

/** Whether `value` is an encrypted envelope. */
export function isEnvelope(value: string): boolean {
  return value.startsWith(ENVELOPE_PREFIX);
}

/** The key id of an envelope, or `undefined` for a plaintext value. */
export function envelopeKeyId(value: string): string | undefined {
  if (!isEnvelope(value)) return undefined;
  return value.slice(ENVELOPE_PREFIX.length).split(':', 1)[0];
}

/**
 * The plaintext of the envelope `value` read from `kvKey`. Throws `KV_DECRYPT` naming the KV key (and the key id):
 * no keyring, a key id the keyring lacks, a damaged envelope, or a value that fails authentication.
 */
export function decryptValue(keyring: Keyring | undefined, kvKey: string, value: string): string {
  const fail = (why: string) => new WhisperError('KV_DECRYPT', `Consul KV key ${kvKey} ${why}`);
  const parts = isEnvelope(value) ? value.slice(ENVELOPE_PREFIX.length).split(':') : [];
  const [id, ivB64, tagB64, bodyB64] = parts;
  if (parts.length !== 4 || !id || !BASE64.test(ivB64!) || !BASE64.test(tagB64!) || !BASE64.test(bodyB64!)) {
    throw fail('holds a damaged encrypted value');
  }
  if (!keyring) throw fail(`is encrypted with key id "${id}": give --kv-encryption-key-file with that key to read it`);
  const key = keyring.key(id);
  if (!key) throw fail(`is encrypted with key id "${id}", which ${keyring.file} does not hold (it holds ${keyring.ids.map((k) => `"${k}"`).join(', ')}); add that key to the file`);
  const iv = Buffer.from(ivB64!, 'base64');
  const tag = Buffer.from(tagB64!, 'base64');
  if (iv.length !== IV_BYTES || tag.length !== 16) throw fail('holds a damaged encrypted value');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad(id, kvKey));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(bodyB64!, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw fail(`does not decrypt with key id "${id}" (the value was changed, or belongs to another KV key)`);
  }
}

/** How values go into and come out of Consul KV: encrypted with a keyring, or plaintext without one. */
export interface KvCodec {
  /** Whether new values are encrypted. */
  readonly encrypted: boolean;
  /** The value to store under `kvKey`. */
  encode(kvKey: string, plaintext: string): string;
  /** The plaintext of a value read from `kvKey` (plaintext values pass through). Throws `KV_DECRYPT`. */
  decode(kvKey: string, value: string): string;
  /** Whether `value` is as {@link KvCodec.encode} writes it now; otherwise it is worth rewriting (rotation). */
  isCurrent(value: string): boolean;
}

/** The codec of a keyring (`--kv-encryption-key-file`), or the plaintext one without. */
export function kvCodec(keyring: Keyring | undefined): KvCodec {
  return {
    encrypted: keyring !== undefined,
    encode: (kvKey, plaintext) => (keyring ? encryptValue(keyring, kvKey, plaintext) : plaintext),
    decode: (kvKey, value) => (isEnvelope(value) ? decryptValue(keyring, kvKey, value) : value),
    isCurrent: (value) => (keyring ? envelopeKeyId(value) === keyring.writeId : !isEnvelope(value)),
  } satisfies KvCodec;
}
