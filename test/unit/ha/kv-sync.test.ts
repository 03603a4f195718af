import { describe, it, expect } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { runKvSync } from '../../../src/ha/kv-sync.js';
import { WhisperError } from '../../../src/errors.js';
import type { KvListing, KvQuery } from '../../../src/consul/api.js';
import type { CertStore } from '../../../src/store/types.js';

describe('runKvSync', () => {
  it('blocks after the index it saw, and re-reads without blocking after a failure (Consul may be another agent)', async () => {
    const asked: Array<number | undefined> = [];
    const ac = new AbortController();
    const answers: Array<KvListing | Error> = [
      { index: 40, items: [] },
      { index: 41, items: [] },
      new WhisperError('CONSUL_UNAVAILABLE', 'Consul at consul:8500 unreachable', { retryable: true }),
      { index: 7, items: [] },
    ];
    const api = {
      async kvList(_prefix: string, q: KvQuery): Promise<KvListing> {
        asked.push(q.index);
        const next = answers.shift();
        if (next === undefined) {
          ac.abort();
          throw new WhisperError('ABORTED', 'aborted');
        }
        if (next instanceof Error) throw next;
        return next;
      },
    };
    const sleeps: number[] = [];
    await runKvSync(
      { api, store: {} as CertStore, log: silentLogger(), sleep: async (ms) => void sleeps.push(ms) },
      ac.signal,
    );
    expect(asked).toEqual([0, 40, 41, 0, 7]);
    expect(sleeps).toEqual([2000]);
  });
});
