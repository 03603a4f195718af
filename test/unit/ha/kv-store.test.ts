import { describe, it, expect } from 'vitest';
import { CONSUL_KV_MAX_BYTES, assertKvSize, combinedPem, splitCombined } from '../../../src/ha/kv-store.js';

const block = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;

describe('KV certificate bundles', () => {
  it('splits a combined PEM back into key, leaf and chain', () => {
    const bundle = { key: block('PRIVATE KEY', 'AAAA'), cert: block('CERTIFICATE', 'BBBB'), chain: block('CERTIFICATE', 'CCCC') };
    expect(splitCombined('x.example.com', combinedPem(bundle))).toEqual(bundle);
  });

  it('refuses a value over Consul\'s 512 KiB limit with the certificate named', () => {
    expect(() => assertKvSize('big.example.com', 'x'.repeat(CONSUL_KV_MAX_BYTES + 1))).toThrow(/big\.example\.com.*over Consul's KV limit/);
    expect(() => assertKvSize('ok.example.com', 'x'.repeat(CONSUL_KV_MAX_BYTES))).not.toThrow();
  });

  it('rejects an entry without a key', () => {
    expect(() => splitCombined('x.example.com', block('CERTIFICATE', 'BBBB'))).toThrow(/not a combined PEM/);
  });
});
