import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { decryptValue, encryptValue, envelopeKeyId, keyFileModeProblem, kvCodec, parseKeyFile } from '../../../src/ha/kv-crypto.js';
import { failure } from '../failure.js';

const b64 = (fill: number, length = 32) => Buffer.alloc(length, fill).toString('base64');
const FILE = '/etc/whisper/kv.keys';
const PEM = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
const KEY = 'whisper/certs/a.example.com';

function syncFailure(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    return failure(Promise.reject(err));
  }
  throw new Error('expected a failure');
}

describe('KV encryption key file', () => {
  it('reads `<id>:<base64 32 bytes>` lines, skipping blanks and comments; the first key writes', () => {
    const ring = parseKeyFile(`# new key first\n\nk2:${b64(2)}\n  k1:${b64(1)}  \n`, FILE);
    expect(ring.writeId).toBe('k2');
    expect(ring.ids).toEqual(['k2', 'k1']);
  });

  it('never shows the keys when printed or serialised', () => {
    const ring = parseKeyFile(`k1:${b64(7)}\n`, FILE);
    expect(JSON.stringify(ring)).not.toContain(b64(7));
    expect(JSON.stringify({ ring })).toContain('k1');
  });

  it.each([
    ['no key at all', '# nothing\n\n', /holds no key/],
    ['a line without an id', `${b64(1)}\n`, /line 1/],
    ['a key of the wrong length', `k1:${b64(1, 16)}\n`, /line 1.*32 bytes/],
    ['a key that is not base64', `k1:${'!'.repeat(44)}\n`, /line 1.*base64/],
    ['an id twice', `k1:${b64(1)}\nk1:${b64(2)}\n`, /line 2.*k1.*twice/],
    ['a bad id', `k 1:${b64(1)}\n`, /line 1.*id/],
  ])('refuses %s with CONFIG_INVALID naming the file, never the key', async (_what, text, message) => {
    const err = await syncFailure(() => parseKeyFile(text, FILE));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(FILE);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(b64(1));
    expect(err.message).not.toContain(b64(1, 16));
  });

  it('wants the file readable by its owner only (0600 or 0400)', () => {
    expect(keyFileModeProblem(0o100600)).toBe(false);
    expect(keyFileModeProblem(0o100400)).toBe(false);
    expect(keyFileModeProblem(0o100640)).toBe(true);
    expect(keyFileModeProblem(0o100644)).toBe(true);
    expect(keyFileModeProblem(0o100700)).toBe(true);
  });
});

describe('KV value encryption (AES-256-GCM)', () => {
  const old = parseKeyFile(`k1:${b64(1)}\n`, FILE);
  const rotated = parseKeyFile(`k2:${b64(2)}\nk1:${b64(1)}\n`, FILE);

  it('round-trips a value; the envelope names its key id and holds no plaintext', () => {
    const sealed = encryptValue(old, KEY, PEM);
    expect(sealed).toMatch(/^whisper-enc:v1:k1:/);
    expect(sealed).not.toContain('PRIVATE KEY');
    expect(envelopeKeyId(sealed)).toBe('k1');
    expect(decryptValue(old, KEY, sealed)).toBe(PEM);
  });

  it('uses a fresh IV for every value', () => {
    expect(encryptValue(old, KEY, PEM)).not.toBe(encryptValue(old, KEY, PEM));
  });

  it('after a rotation, writes with the first key and still reads values of the old one', () => {
    const before = encryptValue(old, KEY, PEM);
    const after = encryptValue(rotated, KEY, PEM);
    expect(envelopeKeyId(after)).toBe('k2');
    expect(decryptValue(rotated, KEY, before)).toBe(PEM);
    expect(decryptValue(rotated, KEY, after)).toBe(PEM);
  });

  it('fails on a tampered ciphertext with KV_DECRYPT naming the KV key', async () => {
    const sealed = encryptValue(old, KEY, PEM);
    const parts = sealed.split(':');
    const body = Buffer.from(parts[parts.length - 1]!, 'base64');
    body[0] = body[0]! ^ 1;
    parts[parts.length - 1] = body.toString('base64');
    const err = await syncFailure(() => decryptValue(old, KEY, parts.join(':')));
    expect(err.code).toBe('KV_DECRYPT');
    expect(err.message).toContain(KEY);
  });

  it('fails on a value moved to another KV key (the key is authenticated)', async () => {
    const sealed = encryptValue(old, KEY, PEM);
    const err = await syncFailure(() => decryptValue(old, 'whisper/certs/b.example.com', sealed));
    expect(err.code).toBe('KV_DECRYPT');
    expect(err.message).toContain('whisper/certs/b.example.com');
  });

  it('fails on an unknown key id with KV_DECRYPT naming the KV key and the key id', async () => {
    const sealed = encryptValue(rotated, KEY, PEM);
    const err = await syncFailure(() => decryptValue(old, KEY, sealed));
    expect(err.code).toBe('KV_DECRYPT');
    expect(err.message).toContain(KEY);
    expect(err.message).toContain('"k2"');
  });

  it('fails on a damaged envelope', async () => {
    const err = await syncFailure(() => decryptValue(old, KEY, 'whisper-enc:v1:k1:zz'));
    expect(err.code).toBe('KV_DECRYPT');
    expect(err.message).toContain(KEY);
  });
});

describe('kvCodec', () => {
  const ring = parseKeyFile(`k2:${b64(2)}\nk1:${b64(1)}\n`, FILE);

  it('with keys: encrypts, decrypts, and reads plaintext values written before encryption was on', () => {
    const codec = kvCodec(ring);
    expect(codec.decode(KEY, codec.encode(KEY, PEM))).toBe(PEM);
    expect(codec.decode(KEY, PEM)).toBe(PEM);
  });

  it('says which values to rewrite: plaintext ones and those of an older key', () => {
    const codec = kvCodec(ring);
    expect(codec.isCurrent(codec.encode(KEY, PEM))).toBe(true);
    expect(codec.isCurrent(encryptValue(parseKeyFile(`k1:${b64(1)}\n`, FILE), KEY, PEM))).toBe(false);
    expect(codec.isCurrent(PEM)).toBe(false);
    expect(kvCodec(undefined).isCurrent(PEM)).toBe(true);
  });

  it('without keys: stores plaintext and refuses an encrypted value, naming the KV key and key id', async () => {
    const plain = kvCodec(undefined);
    expect(plain.encode(KEY, PEM)).toBe(PEM);
    const err = await syncFailure(() => plain.decode(KEY, kvCodec(ring).encode(KEY, PEM)));
    expect(err.code).toBe('KV_DECRYPT');
    expect(err.message).toContain(KEY);
    expect(err.message).toContain('"k2"');
    expect(err.message).toContain('--kv-encryption-key-file');
  });

  it('encrypts with random IVs of 12 bytes', () => {
    const sealed = encryptValue(ring, KEY, PEM, randomBytes(12));
    expect(Buffer.from(sealed.split(':')[3]!, 'base64')).toHaveLength(12);
  });
});
