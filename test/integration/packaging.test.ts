import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../support/paths.js';

// The image is built and run by a real engine in image.test.ts; this file covers the npm package.
const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Node versions the tarball must run on: the oldest supported major (22) and the LTS of the image (24). */
function nodeBins(): Array<{ version: string; bin: string }> {
  return [process.env.NODE22_VERSION, process.env.NODE_VERSION].map((version) => {
    if (!version) throw new Error('NODE_VERSION / NODE22_VERSION are not set: run the tests through scripts/test.sh');
    return { version, bin: join(cacheDir(), 'node', `v${version}`, 'bin') };
  });
}

describe('npm pack', () => {
  it('packs dist/*.js, the dashboard (web/), README and package.json only, and the installed tarball runs `npx whisper-ts --help` on Node 22 and 24', async () => {
    const out = await tempDir('whisper-pack-');
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: root, maxBuffer: 1 << 24 });
    const [pack] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = pack!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/bin.js', 'dist/cli.js', 'web/index.html', 'web/app.js', 'web/style.css']));
    expect(files.filter((f) => !/^(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist\/.*\.(js|d\.ts)|web\/[a-z0-9-]+\.(html|js|css))$/.test(f))).toEqual([]);
    expect(files.filter((f) => /^(src|test|scripts|bench|docker)\//.test(f))).toEqual([]);

    for (const node of nodeBins()) {
      // As a user on that Node would: its own npm installs the tarball, npx runs the bin (`#!/usr/bin/env node`).
      const app = await tempDir('whisper-install-');
      await writeFile(join(app, 'package.json'), '{ "private": true }\n');
      // Without the npm_* variables of the npm that runs the tests (they name its node).
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE'));
      const onNode = { cwd: app, maxBuffer: 1 << 24, env: { ...clean, HOME: app, PATH: `${node.bin}:${process.env.PATH ?? ''}` } };
      await run(join(node.bin, 'npm'), ['install', '--no-audit', '--no-fund', join(out, pack!.filename)], onNode);
      const help = await run(join(node.bin, 'npx'), ['--no', '--', 'whisper-ts', '--help'], onNode);
      expect(help.stdout).toContain('--consul <host>');
      expect(help.stdout).toContain('Usage: whisper-ts');
      const ran = await run(join(node.bin, 'npx'), ['--no', '--', 'node', '-p', 'process.version'], onNode);
      expect(ran.stdout.trim()).toBe(`v${node.version}`);
    }
  }, 180_000);
});
