import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createDnsBackends } from '../../src/policy/dns-backends.js';
import type { PolicyFile } from '../../src/policy/file-types.js';
import { isJournalFile } from '../../src/acme/journal.js';

const fileWith = (dns: PolicyFile['dns']): PolicyFile => ({ path: 'whisper.yaml', defaults: {}, dns, targets: {}, rules: [], domains: [] });

describe('createDnsBackends', () => {
  it('builds a named back end once, anew when a reload changes it, each with its own clean-up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-backends-'));
    try {
      let file = fileWith({ manual: { provider: 'none' }, hook: { provider: 'exec', command: '/bin/true' } });
      const wrapped: string[] = [];
      const backends = createDnsBackends({
        file: () => file,
        config: { certDir: dir, route53: { region: 'us-east-1', requestsPerSecond: 10 } } as Config,
        log: silentLogger(),
        wrap: (p, name) => {
          wrapped.push(name);
          return p;
        },
      });
      const first = backends.get('manual');
      expect(backends.get('manual')).toBe(first);
      expect(backends.cleanupFor(first)).toBeDefined();
      expect(backends.get('hook')).not.toBe(first);
      expect(backends.cleanupFor(backends.get('hook'))).not.toBe(backends.cleanupFor(first));
      file = fileWith({ manual: { provider: 'exec', command: '/bin/false' } });
      expect(backends.get('manual')).not.toBe(first);
      expect(wrapped).toEqual(['manual', 'hook', 'manual']);
      expect(() => backends.get('gone')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
      await backends.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("removes at start what a killed run left in a back end's own journal, through that back end", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-backends-'));
    try {
      const calls = join(dir, 'calls.txt');
      const hook = join(dir, 'hook.sh');
      await writeFile(hook, `#!/bin/sh\necho "$@" >> ${calls}\n`, { mode: 0o755 });
      await writeFile(join(dir, '.whisper-challenges-hook.json'), JSON.stringify({ version: 1, records: [{ fqdn: '_acme-challenge.www.example.com', value: 'left-behind' }] }));
      const backends = createDnsBackends({
        file: () => fileWith({ hook: { provider: 'exec', command: hook } }),
        config: { certDir: dir, route53: { region: 'us-east-1', requestsPerSecond: 10 } } as Config,
        log: silentLogger(),
        wrap: (p) => p,
      });
      await backends.cleanOrphans(new AbortController().signal);
      const { readFile } = await import('node:fs/promises');
      expect(await readFile(calls, 'utf8')).toMatch(/^cleanup _acme-challenge\.www\.example\.com\.? left-behind$/m);
      await backends.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("counts each back end's journal as a file of the folder", () => {
    expect(isJournalFile('.whisper-challenges.json')).toBe(true);
    expect(isJournalFile('.whisper-challenges-r53.prod.json')).toBe(true);
    expect(isJournalFile('.whisper-challenges-../x.json')).toBe(false);
  });
});
