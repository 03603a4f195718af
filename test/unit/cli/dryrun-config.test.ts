import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/config.js';
import type { ConsulApi } from '../../../src/consul/api.js';
import { dryRun } from '../../../src/dryrun.js';
import { silentLogger } from '../../../src/log.js';
import { createFolderStore } from '../../../src/store/folder.js';

describe('dry run with --config and DOMAINS', () => {
  it("plans the file's domains, DOMAINS and the rules' extra names, as the daemon would", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-dry-config-'));
    try {
      const file = join(dir, 'whisper.yaml');
      await writeFile(file, 'certificates:\n  - name: www.example.com\n    names: [alias.example.com]\ndomains:\n  - static.example.com\n');
      const config = buildConfig(join(dir, 'certs'), { config: file }, { env: { DOMAINS: 'env.example.com' }, cwd: dir, home: dir });
      const consul = { catalogServices: async () => ({ index: 1, services: { www: ['dns=example.com', 'ssl=offloading'] } }) } as unknown as ConsulApi;
      const result = await dryRun(config, consul, createFolderStore(join(dir, 'certs')), silentLogger());
      const byId = new Map(result.items.map((i) => [i.id, i.names]));
      expect(byId.get('www.example.com')).toEqual(['www.example.com', 'alias.example.com']);
      expect(byId.get('static.example.com')).toEqual(['static.example.com']);
      expect(byId.get('env.example.com')).toEqual(['env.example.com']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
