import { describe, it, expect, afterEach } from 'vitest';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { challengeDir, createWebrootSolver } from '../../src/http01/webroot.js';
import { failure } from './failure.js';

const TOKEN = 'DGyRejmCefe7v4NfDGDKfA';
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) {
    await chmod(d, 0o755).catch(() => undefined);
    await rm(d, { recursive: true, force: true });
  }
});
async function webroot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'whisper-webroot-'));
  dirs.push(d);
  return d;
}

describe('webroot HTTP-01 solver', () => {
  it('writes <webroot>/.well-known/acme-challenge/<token>, mode 0644, with no temporary file left, and removes it', async () => {
    const root = await webroot();
    const solver = createWebrootSolver({ dir: root });
    const old = process.umask(0o077);
    try {
      await solver.present(TOKEN, `${TOKEN}.thumb`);
    } finally {
      process.umask(old);
    }
    const file = join(challengeDir(root), TOKEN);
    expect(await readFile(file, 'utf8')).toBe(`${TOKEN}.thumb`);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect(await readdir(challengeDir(root))).toEqual([TOKEN]);
    // Presenting again replaces it atomically.
    await solver.present(TOKEN, `${TOKEN}.other`);
    expect(await readFile(file, 'utf8')).toBe(`${TOKEN}.other`);
    await solver.cleanUp(TOKEN);
    await solver.cleanUp(TOKEN);
    expect(await readdir(challengeDir(root))).toEqual([]);
  });

  it('never writes outside the folder: a bad token is refused before any file is touched', async () => {
    const root = await webroot();
    const solver = createWebrootSolver({ dir: root });
    for (const bad of ['../evil', '..', 'a/b', '.hidden', '']) {
      expect((await failure(solver.present(bad, 'v'))).code, bad).toBe('HTTP01');
      expect((await failure(solver.cleanUp(bad))).code, bad).toBe('HTTP01');
    }
    expect(await readdir(root)).toEqual([]);
  });

  it('fails with a retryable HTTP01 error naming the file when the folder is not writable, leaving nothing behind', async () => {
    if (process.getuid?.() === 0) {
      // root writes anyway: make the target a file instead, so mkdir fails.
      const root = await webroot();
      await mkdir(join(root, '.well-known'));
      await writeFile(join(root, '.well-known', 'acme-challenge'), 'not a folder');
      const err = await failure(createWebrootSolver({ dir: root }).present(TOKEN, 'v'));
      expect(err.code).toBe('HTTP01');
      expect(err.retryable).toBe(true);
      expect(err.message).toContain(TOKEN);
      return;
    }
    const root = await webroot();
    await mkdir(challengeDir(root), { recursive: true });
    await chmod(challengeDir(root), 0o555);
    const err = await failure(createWebrootSolver({ dir: root }).present(TOKEN, 'v'));
    expect(err.code).toBe('HTTP01');
    expect(err.retryable).toBe(true);
    await chmod(challengeDir(root), 0o755);
    expect(await readdir(challengeDir(root))).toEqual([]);
  });
});
