import { describe, it, expect } from 'vitest';
import { LETSENCRYPT } from '../../../src/options.js';
import { originOf } from '../../../src/lifecycle/origin.js';

describe('originOf: the CA of a certificate the state has no record of', () => {
  it("tells Let's Encrypt staging from production by the (STAGING) of staging's intermediates", () => {
    expect(originOf("C=US\nO=(STAGING) Let's Encrypt\nCN=(STAGING) Counterfeit Cashew R10", new Map())).toBe(LETSENCRYPT.staging);
    expect(originOf("C=US\nO=Let's Encrypt\nCN=R10", new Map())).toBe(LETSENCRYPT.production);
  });

  it('takes the CA of another certificate with the same issuer first, and says nothing of an unknown issuer', () => {
    const known = new Map([['CN=Pebble Intermediate CA 1a2b3c', 'https://pebble-a/dir']]);
    expect(originOf('CN=Pebble Intermediate CA 1a2b3c', known)).toBe('https://pebble-a/dir');
    expect(originOf('CN=Pebble Intermediate CA 9f8e7d', known)).toBeUndefined();
    expect(originOf('C=US\nO=Some Other CA\nCN=Issuing CA', known)).toBeUndefined();
  });
});
