import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { tempFileTarget } from '../../../src/store/atomic.js';
import { acquireFolderLock, lockTempFile, readFolderLock, LOCK_FILE, type AcquireLockOptions, type LockInfo } from '../../../src/ops/lock.js';
import { isStale, parseLockInfo } from '../../../src/ops/lock-info.js';
import { capturedLogger, fakeClock, settle, T0 } from '../queue/fakes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ME = { pid: 4242, host: 'box-a' };
const iso = (ms: number) => new Date(ms).toISOString();

async function writeLock(info: Partial<LockInfo> & { pid: number; host: string }): Promise<void> {
  const full = { started: iso(T0), kind: 'daemon', heartbeat: iso(T0), ...info };
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(full));
}

async function lockFile(): Promise<LockInfo> {
  return JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockInfo;
}

function options(extra: Partial<AcquireLockOptions> = {}) {
  const clock = fakeClock();
  const logger = capturedLogger();
  const alive = new Set<number>([1000]);
  const opts: AcquireLockOptions = { wait: false, timers: clock, now: clock.now, log: logger.log, alive: (pid) => alive.has(pid), ...ME, ...extra };
  return { clock, logger, alive, opts };
}

describe('acquireFolderLock', () => {
  it('creates the lock (mode 0600, who and since) and removes it on release, twice without harm', async () => {
    const { opts } = options();
    const lock = await acquireFolderLock(dir, { kind: 'command' }, opts);
    const info = await lockFile();
    expect(info).toEqual({ pid: 4242, host: 'box-a', kind: 'command', started: iso(T0), heartbeat: iso(T0) });
    expect((await stat(join(dir, LOCK_FILE))).mode & 0o777).toBe(0o600);
    await lock.release();
    await lock.release();
    await expect(stat(join(dir, LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates the lock through a temporary file of the folder\'s kind, so a kill -9 leaves nothing a start does not clean', () => {
    const file = lockTempFile(join(dir, LOCK_FILE));
    expect(dirname(file)).toBe(dir);
    expect(tempFileTarget(basename(file))).toBe(LOCK_FILE);
    expect(lockTempFile(join(dir, LOCK_FILE))).not.toBe(file);
  });

  it('lets exactly one of two processes taking a free folder at once have it', async () => {
    const a = options({ pid: 1000 });
    const b = options({ pid: 1001 });
    b.alive.add(1000);
    a.alive.add(1001);
    const got = await Promise.allSettled([acquireFolderLock(dir, { kind: 'command' }, a.opts), acquireFolderLock(dir, { kind: 'command' }, b.opts)]);
    expect(got.filter((g) => g.status === 'fulfilled')).toHaveLength(1);
    expect(got.find((g) => g.status === 'rejected')).toMatchObject({ reason: { code: 'FOLDER_LOCKED' } });
    for (const g of got) if (g.status === 'fulfilled') await g.value.release();
  });

  it('fails at once with FOLDER_LOCKED naming the live holder when told not to wait', async () => {
    const { opts } = options();
    await writeLock({ pid: 1000, host: 'box-a', kind: 'daemon', started: '2024-12-31T23:00:00.000Z' });
    await expect(acquireFolderLock(dir, { kind: 'command' }, opts)).rejects.toMatchObject({
      code: 'FOLDER_LOCKED',
      message: expect.stringContaining('the daemon (pid 1000 on box-a, since 2024-12-31T23:00:00.000Z)'),
    });
    expect((await lockFile()).pid).toBe(1000);
  });

  it('takes over the lock of a dead pid on this host, and logs it', async () => {
    const { opts, logger } = options();
    await writeLock({ pid: 999, host: 'box-a' });
    const lock = await acquireFolderLock(dir, { kind: 'command' }, opts);
    expect((await lockFile()).pid).toBe(4242);
    expect(logger.lines().some((l) => l.level === 40 && String(l.msg).includes('taking over') && (l.holder as { pid: number }).pid === 999)).toBe(true);
    await lock.release();
  });

  it('takes over a lock holding our own pid on this host (a container restarted as pid 1)', async () => {
    const { opts, alive } = options();
    alive.add(4242);
    await writeLock({ pid: 4242, host: 'box-a', started: iso(T0 - 5000) });
    const lock = await acquireFolderLock(dir, { kind: 'daemon' }, opts);
    expect((await lockFile()).started).toBe(iso(T0));
    await lock.release();
  });

  it('respects a fresh lock of another host and takes over one whose heartbeat is too old', async () => {
    const { opts } = options();
    await writeLock({ pid: 1, host: 'box-b', heartbeat: iso(T0 - 30_000) });
    await expect(acquireFolderLock(dir, { kind: 'command' }, opts)).rejects.toMatchObject({ code: 'FOLDER_LOCKED' });
    await writeLock({ pid: 1, host: 'box-b', heartbeat: iso(T0 - 61_000) });
    const lock = await acquireFolderLock(dir, { kind: 'command' }, opts);
    expect((await lockFile()).host).toBe('box-a');
    await lock.release();
  });

  it('waits (logging the holder once) until the folder is free', async () => {
    const { opts, clock, logger } = options({ wait: true, pollMs: 1000 });
    await writeLock({ pid: 1000, host: 'box-a' });
    let acquired = false;
    const pending = acquireFolderLock(dir, { kind: 'daemon' }, opts).then((l) => ((acquired = true), l));
    for (let i = 0; i < 3; i++) {
      while (clock.scheduled().length === 0) await settle();
      await clock.advance(1000);
    }
    expect(acquired).toBe(false);
    await rm(join(dir, LOCK_FILE));
    while (!acquired) {
      while (!acquired && clock.scheduled().length === 0) await settle();
      if (!acquired) await clock.advance(1000);
    }
    const lock = await pending;
    expect(lock.info.kind).toBe('daemon');
    expect(logger.lines().filter((l) => String(l.msg).startsWith('waiting for the folder'))).toHaveLength(1);
    await lock.release();
  });

  it('ends a wait with ABORTED when its signal aborts', async () => {
    const controller = new AbortController();
    const { opts, clock } = options({ wait: true, signal: controller.signal });
    await writeLock({ pid: 1000, host: 'box-a' });
    const pending = acquireFolderLock(dir, { kind: 'daemon' }, opts);
    while (clock.scheduled().length === 0) await settle();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('rewrites its heartbeat, so that a holder that keeps running never looks stale', async () => {
    const beats: LockInfo[] = [];
    let beat: () => void = () => undefined;
    const { opts, clock } = options({ heartbeatMs: 15_000, onHeartbeat: (i) => (beats.push(i), beat()) });
    const lock = await acquireFolderLock(dir, { kind: 'daemon' }, opts);
    for (const n of [1, 2, 3, 4, 5]) {
      const written = new Promise<void>((r) => (beat = r));
      await clock.advance(15_000);
      await written;
      expect((await lockFile()).heartbeat).toBe(iso(T0 + n * 15_000));
    }
    const seen = await readFolderLock(dir, { now: clock.now(), ...ME, pid: 1, alive: () => true });
    expect(seen?.stale).toBe(false);
    expect(seen?.started).toBe(iso(T0));
    expect(beats).toHaveLength(5);
    await lock.release();
    expect(clock.scheduled()).toEqual([]);
  });

  it('records the admin API and token file (never a token) on update', async () => {
    const { opts } = options();
    const lock = await acquireFolderLock(dir, { kind: 'daemon' }, opts);
    await lock.update({ api: 'http://127.0.0.1:9400', tokenFile: '/etc/whisper/token' });
    expect(await lockFile()).toMatchObject({ pid: 4242, api: 'http://127.0.0.1:9400', tokenFile: '/etc/whisper/token' });
    expect(lock.info.api).toBe('http://127.0.0.1:9400');
    await lock.release();
  });

  it('leaves alone on release a lock another process took over', async () => {
    const { opts } = options();
    const lock = await acquireFolderLock(dir, { kind: 'command' }, opts);
    await writeLock({ pid: 1000, host: 'box-a' });
    await lock.release();
    expect((await lockFile()).pid).toBe(1000);
  });

  it('refuses to judge a file that is not a lock', async () => {
    const { opts } = options();
    await writeFile(join(dir, LOCK_FILE), 'garbage');
    await expect(acquireFolderLock(dir, { kind: 'command' }, opts)).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining(LOCK_FILE) });
  });
});

describe('readFolderLock', () => {
  it('is undefined for a free folder, and tells a live holder from a gone one', async () => {
    expect(await readFolderLock(dir)).toBeUndefined();
    await writeLock({ pid: 1000, host: 'box-a', api: 'http://127.0.0.1:1' });
    expect(await readFolderLock(dir, { now: T0, ...ME, alive: () => true })).toMatchObject({ pid: 1000, api: 'http://127.0.0.1:1', stale: false });
    expect(await readFolderLock(dir, { now: T0, ...ME, alive: () => false })).toMatchObject({ pid: 1000, stale: true });
  });
});

describe('isStale', () => {
  const info = parseLockInfo('f', JSON.stringify({ pid: 7, host: 'h', started: iso(T0), kind: 'daemon' }));
  const check = { pid: 1, host: 'h', now: T0, staleMs: 60_000, alive: () => true };
  it('counts a lock without heartbeat from its start', () => {
    expect(info.heartbeat).toBe(iso(T0));
    expect(isStale(info, check)).toBe(false);
    expect(isStale(info, { ...check, now: T0 + 60_001 })).toBe(true);
  });
  it('cannot ask another host about its pids', () => {
    expect(isStale(info, { ...check, host: 'other', alive: () => false })).toBe(false);
  });
});
