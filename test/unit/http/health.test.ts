import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFolderWritable, type HealthFs } from '../../../src/http/health.js';
import type { Timers } from '../../../src/time.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-health-'));
});
afterEach(async () => {
  await chmod(dir, 0o700);
  await rm(dir, { recursive: true, force: true });
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed`), { code });
}

/** Timers that fire only when the test says so. */
function fakeTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  const timers: Timers = {
    setTimeout(fn, ms) {
      pending.set(++next, { fn, ms });
      return next;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return { timers, pending };
}

/** A file system that records what the probe does; `open` answers through `opened` when given. */
function fakeFs(options: { opened?: () => Promise<void>; write?: () => Promise<void>; unlink?: () => Promise<void> } = {}) {
  const calls: string[] = [];
  const fs: HealthFs = {
    async open(file, flags, mode) {
      calls.push(`open ${file} ${flags} ${mode.toString(8)}`);
      await options.opened?.();
      return {
        write: async (data) => {
          calls.push(`write ${data.length}`);
          await options.write?.();
        },
        close: async () => {
          calls.push('close');
        },
      };
    },
    async unlink(file) {
      calls.push(`unlink ${file}`);
      await options.unlink?.();
    },
  };
  return { fs, calls };
}

describe('checkFolderWritable', () => {
  it('is ok for a writable folder and leaves no file behind', async () => {
    expect(await checkFolderWritable(dir)).toEqual({ ok: true });
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails for a folder the process cannot write, naming the folder and the error code', async () => {
    // chmod does not stop root: a "folder" under a regular file is unwritable for everyone.
    const root = process.getuid?.() === 0;
    let folder = dir;
    if (root) {
      await writeFile(join(dir, 'file'), 'x');
      folder = join(dir, 'file', 'certs');
    } else {
      await chmod(dir, 0o555);
    }
    const code = root ? 'ENOTDIR' : 'EACCES';
    expect(await checkFolderWritable(folder)).toEqual({ ok: false, reason: `certificate folder ${folder} is not writable: ${code}` });
  });

  it('fails for a missing folder', async () => {
    const folder = join(dir, 'missing');
    expect(await checkFolderWritable(folder)).toEqual({ ok: false, reason: `certificate folder ${folder} is not writable: ENOENT` });
  });

  it('creates a unique 0600 file exclusively, writes one byte, closes and removes it', async () => {
    const { fs, calls } = fakeFs();
    expect(await checkFolderWritable('/certs', { fs })).toEqual({ ok: true });
    expect(calls).toHaveLength(4);
    const file = /^open (\/certs\/\.\.whisper-probe\.[0-9a-f]{12}\.tmp) wx 600$/.exec(calls[0]!)?.[1];
    expect(file).toBeDefined();
    expect(calls.slice(1)).toEqual(['write 1', 'close', `unlink ${file}`]);
    await checkFolderWritable('/certs', { fs });
    expect(calls[4]).not.toBe(calls[0]);
  });

  it('reports a failed write (full disk) and still closes and removes the file', async () => {
    const { fs, calls } = fakeFs({ write: () => Promise.reject(errno('ENOSPC')), unlink: () => Promise.reject(errno('EIO')) });
    expect(await checkFolderWritable('/certs', { fs })).toEqual({ ok: false, reason: 'certificate folder /certs is not writable: ENOSPC' });
    expect(calls.slice(1, 3)).toEqual(['write 1', 'close']);
    expect(calls[3]).toMatch(/^unlink \/certs\/\.\.whisper-probe\./);
  });

  it('reports a read-only mount, and a file it cannot remove', async () => {
    const readOnly = fakeFs({ opened: () => Promise.reject(errno('EROFS')) });
    expect(await checkFolderWritable('/certs', { fs: readOnly.fs })).toEqual({ ok: false, reason: 'certificate folder /certs is not writable: EROFS' });
    expect(readOnly.calls).toHaveLength(1);
    const stuck = fakeFs({ unlink: () => Promise.reject(errno('EPERM')) });
    expect(await checkFolderWritable('/certs', { fs: stuck.fs })).toEqual({ ok: false, reason: 'certificate folder /certs is not writable: EPERM' });
  });

  it('names the error when it has no code', async () => {
    const { fs } = fakeFs({ opened: () => Promise.reject(new Error('odd failure')) });
    expect(await checkFolderWritable('/certs', { fs })).toEqual({ ok: false, reason: 'certificate folder /certs is not writable: odd failure' });
  });

  it('answers after the timeout when the probe hangs, and keeps sharing the hung probe', async () => {
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    let opens = 0;
    const { fs, calls } = fakeFs({ opened: () => (++opens === 1 ? hung : Promise.resolve()) });
    const { timers, pending } = fakeTimers();
    const first = checkFolderWritable('/hung', { fs, timers });
    const second = checkFolderWritable('/hung', { fs, timers, timeoutMs: 50 });
    expect([...pending.values()].map((t) => t.ms)).toEqual([3000, 50]);
    for (const t of [...pending.values()]) t.fn();
    expect(await first).toEqual({ ok: false, reason: 'certificate folder /hung did not answer within 3000 ms' });
    expect(await second).toEqual({ ok: false, reason: 'certificate folder /hung did not answer within 50 ms' });
    // A check after the timeout joins the probe still hanging instead of starting another.
    const third = checkFolderWritable('/hung', { fs, timers });
    expect(calls.filter((c) => c.startsWith('open'))).toHaveLength(1);
    release();
    expect(await third).toEqual({ ok: true });
    expect(pending.size).toBe(0);
    // Nothing is cached once it settled: the next check probes again.
    expect(await checkFolderWritable('/hung', { fs, timers })).toEqual({ ok: true });
    expect(calls.filter((c) => c.startsWith('open'))).toHaveLength(2);
  });

  it('shares one probe between overlapping checks of a folder, not between folders', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { fs, calls } = fakeFs({ opened: () => gate });
    const { timers } = fakeTimers();
    const checks = [checkFolderWritable('/a', { fs, timers }), checkFolderWritable('/a', { fs, timers }), checkFolderWritable('/b', { fs, timers })];
    release();
    expect(await Promise.all(checks)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(calls.filter((c) => c.startsWith('open')).map((c) => c.split(' ')[1]!.slice(0, 3))).toEqual(['/a/', '/b/']);
  });
});
