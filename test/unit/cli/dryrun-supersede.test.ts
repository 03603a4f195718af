import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { supersededByPlan } from '../../../src/dryrun-supersede.js';
import { formatDryRun } from '../../../src/dryrun.js';
import { saveState } from '../../../src/state/file.js';
import { emptyState } from '../../../src/state/types.js';
import { createFolderStore } from '../../../src/store/folder.js';
import type { WantedCert } from '../../../src/plan/types.js';
import { makeBundle } from '../store/x509-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-dry-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const multi: WantedCert = { id: 'multi-hosts.example.com', kind: 'multi', zone: 'example.com', names: ['api.example.com', 'www.example.com'], services: ['api', 'web'] };

describe('dry run: files the plan supersedes', () => {
  it('says which it would remove (whisper-ts wrote them) and which it keeps as duplicates, writing nothing', async () => {
    const store = createFolderStore(dir);
    const ours = await store.write('www.example.com', makeBundle(['www.example.com'], { serial: 7n }));
    await store.write('api.example.com', makeBundle(['api.example.com'], { serial: 8n }));
    await store.write('other.example.com', makeBundle(['other.example.com'], { serial: 9n }));
    await saveState(dir, { ...emptyState(), certs: { 'www.example.com': { written: ours.serial } } });
    const before = (await fsp.readdir(dir)).sort();
    const superseded = await supersededByPlan([multi], store, dir);
    expect(superseded).toEqual([
      { file: 'api.example.com.pem', by: ['multi-hosts.example.com.pem'], names: ['api.example.com'], action: 'keep' },
      { file: 'www.example.com.pem', by: ['multi-hosts.example.com.pem'], names: ['www.example.com'], action: 'remove' },
    ]);
    expect((await fsp.readdir(dir)).sort()).toEqual(before);
    const text = formatDryRun({ items: [], problems: [], superseded });
    expect(text).toContain('would remove www.example.com.pem  [www.example.com]  (superseded by multi-hosts.example.com.pem, once written)');
    expect(text).toContain('duplicate    api.example.com.pem  [api.example.com]  (not written by whisper-ts: kept; remove it once multi-hosts.example.com.pem is served)');
  });

  it('a folder that does not exist supersedes nothing', async () => {
    expect(await supersededByPlan([multi], createFolderStore(path.join(dir, 'none')), path.join(dir, 'none'))).toEqual([]);
  });
});
