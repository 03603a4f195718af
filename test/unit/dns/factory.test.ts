import { describe, it, expect } from 'vitest';
import { lazyRoute53 } from '../../../src/dns/factory.js';

describe('lazyRoute53', () => {
  it('is a route53 provider that loads nothing until used', async () => {
    const provider = lazyRoute53({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
    expect(provider.name).toBe('route53');
    expect(typeof provider.present).toBe('function');
    expect(typeof provider.cleanUp).toBe('function');
    // Never used: closing has no client to release and must not load the SDK to find out.
    await expect(provider.close?.()).resolves.toBeUndefined();
  });

  it('passes cleanUp of nothing through to the real provider', async () => {
    const provider = lazyRoute53({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
    await expect(provider.cleanUp([])).resolves.toBeUndefined();
    await provider.close?.();
  });
});
