/**
 * Disk faults while writing certificates: the real folder store and the real Reconciler and queue, in process.
 * Root ignores file modes, so EACCES and ENOSPC are injected through the store's `fs`; a directory in the way
 * of the certificate file is a real fault root cannot write through (EISDIR).
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFolderStore } from '../../src/store/folder.js';
import { nodeFs, type AtomicFs } from '../../src/store/atomic.js';
import { Reconciler } from '../../src/reconcile.js';
import { IssuanceQueue } from '../../src/queue/queue.js';
import { RenewalManager } from '../../src/lifecycle/manager.js';
import { RateBudget } from '../../src/limits/budget.js';
import { StateKeeper } from '../../src/state/keeper.js';
import { STATE_FILE, emptyState } from '../../src/state/types.js';
import { saveState } from '../../src/state/file.js';
import { WhisperError } from '../../src/errors.js';
import type { Issuer } from '../../src/acme/types.js';
import type { WantedCert } from '../../src/plan/types.js';
import type { QueueEvent } from '../../src/queue/types.js';
import { capturedLogger, fakeClock, settle } from '../unit/queue/fakes.js';
import { makeBundle } from '../unit/store/x509-fixture.js';

const ID = 'web.example.com';
const DAY = 86_400_000;

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-faults-disk-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

type Fault = 'EACCES' | 'ENOSPC' | undefined;

function errnoError(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  const text = code === 'EACCES' ? 'permission denied' : 'no space left on device';
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${file}'`), { code, syscall, path: file });
}

/** Node's fs, except that creating the temporary file is refused (EACCES) or its write runs out of space half-way (ENOSPC). */
function faultyFs(fault: () => Fault, tried: string[] = []): AtomicFs {
  return {
    ...nodeFs,
    open: (async (file: string, flags?: string, mode?: number) => {
      const kind = flags === 'wx' ? fault() : undefined;
      if (kind) tried.push(file);
      if (kind === 'EACCES') throw errnoError('EACCES', 'open', file);
      const fh = await fsp.open(file, flags, mode);
      if (kind !== 'ENOSPC') return fh;
      return new Proxy(fh, {
        get(target, prop) {
          if (prop === 'writeFile') {
            return async (data: string) => {
              await target.writeFile(String(data).slice(0, 100));
              throw errnoError('ENOSPC', 'write', file);
            };
          }
          const value = Reflect.get(target, prop) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    }) as AtomicFs['open'],
  };
}

/** A Reconciler and queue on fake timers over the real folder store; the issuer hands out fresh test certificates. */
function daemonParts(fs: AtomicFs = nodeFs) {
  const clock = fakeClock();
  const logger = capturedLogger();
  const events: QueueEvent[] = [];
  const store = createFolderStore(dir, { fs });
  const issued: string[] = [];
  let serial = 100n;
  const issuer = {
    ensureAccount: async () => undefined,
    issue: async (cert: WantedCert) => {
      issued.push(cert.id);
      const b = makeBundle([...cert.names], { serial: serial++, notAfter: new Date(Date.now() + 90 * DAY) });
      return { key: b.key, cert: b.cert, chain: b.chain };
    },
  } satisfies Issuer;
  const noTimers = { setTimeout: () => 0, clearTimeout: () => undefined };
  const state = new StateKeeper(dir, emptyState(), logger.log, async () => undefined);
  const renewal = new RenewalManager({
    state, renewalInfoUrl: async () => undefined, fetch: async () => { throw new Error('no ARI here'); },
    enqueue: () => undefined, timers: noTimers, now: Date.now, random: () => 0.5, log: logger.log,
  });
  const queue: IssuanceQueue = new IssuanceQueue({
    timers: clock, now: clock.now, retry: { random: () => 0.5 }, log: logger.log, onEvent: (e) => void events.push(e),
    run: (cert, ctx) => reconciler.ensure(cert, ctx.signal),
  });
  const reconciler: Reconciler = new Reconciler({
    store, issuer, renewal, budget: new RateBudget(), state, log: logger.log, allowDomains: [],
    enqueue: (cert, reason) => queue.enqueue(cert, reason),
    forget: (id) => queue.remove(id),
    notify: () => undefined,
  });
  /** Lets the job's real file I/O finish (no wall-clock assertion: it only waits for the next queue event). */
  async function next(type: QueueEvent['type'], count: number): Promise<QueueEvent> {
    for (let i = 0; i < 100_000; i++) {
      const found = events.filter((e) => e.type === type && e.id === ID);
      if (found.length >= count) return found[count - 1]!;
      await settle();
    }
    throw new Error(`no ${type} event #${count}`);
  }
  const start = () => reconciler.update(new Map([['web', ['dns=example.com', 'ssl=on']]]), 'all');
  return { clock, logger, queue, issued, state, next, start };
}

const pemFile = () => path.join(dir, `${ID}.pem`);
const leafOf = async () => (await createFolderStore(dir).read(ID))?.serial;

describe('disk faults while writing a certificate', () => {
  it.each(['EACCES', 'ENOSPC'] as const)('%s: names the file, keeps the old certificate byte-identical, leaves no temp file, retries later', async (code) => {
    // An expired certificate is in place: the job orders a new one and must write it.
    await createFolderStore(dir).write(ID, makeBundle([ID], { serial: 7n }));
    const before = await fsp.readFile(pemFile());
    let fault: Fault = code;
    const tried: string[] = [];
    const d = daemonParts(faultyFs(() => fault, tried));
    d.start();

    const failed = await d.next('failed', 1);
    expect(d.issued).toEqual([ID]);
    expect(failed.code).toBe('STORE_WRITE');
    expect(failed.delayMs).toBeGreaterThan(0);
    expect(d.clock.scheduled()).toEqual([failed.delayMs]);
    const line = d.logger.lines().find((l) => String(l.msg).startsWith('certificate job failed'));
    expect(String(line?.msg)).toContain(`cannot write ${pemFile()}: ${code}`);
    expect(line?.nextAttempt).toBeDefined();
    expect(d.state.cert(ID).lastError).toMatchObject({ code: 'STORE_WRITE' });
    expect(d.state.cert(ID).lastError?.message).toContain(pemFile());
    expect(await fsp.readFile(pemFile())).toEqual(before);
    // The write did go to a temporary file beside the target (for ENOSPC it existed, half-written), now gone.
    expect(tried.map((f) => path.dirname(f))).toEqual([dir]);
    expect(path.basename(tried[0]!)).toMatch(/^\.web\.example\.com\.pem\.[0-9a-f]+\.tmp$/);
    expect(await fsp.readdir(dir)).toEqual([`${ID}.pem`]);

    // The disk is fixed; the scheduled retry writes the certificate already issued, without a second order.
    fault = undefined;
    await d.clock.advance(failed.delayMs!);
    await d.next('succeeded', 1);
    expect(d.issued).toEqual([ID]);
    expect(await fsp.readFile(pemFile())).not.toEqual(before);
    expect(await leafOf()).toBeDefined();
    expect(await fsp.readdir(dir)).toEqual([`${ID}.pem`]);
    expect(d.state.cert(ID).lastError).toBeUndefined();
    await d.queue.stop();
  });

  it('EISDIR (real): a directory where the certificate file goes fails the rename; it and its content stay, no temp file', async () => {
    await fsp.mkdir(pemFile());
    await fsp.writeFile(path.join(pemFile(), 'keep'), 'x');
    const err = await createFolderStore(dir).write(ID, makeBundle([ID])).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WhisperError);
    expect(err).toMatchObject({ code: 'STORE_WRITE' });
    expect((err as Error).message).toMatch(new RegExp(`^cannot write ${pemFile().replace(/[.\\]/g, '\\$&')}: E(ISDIR|NOTEMPTY|EXIST)`));
    expect(await fsp.readdir(dir)).toEqual([`${ID}.pem`]);
    expect(await fsp.readFile(path.join(pemFile(), 'keep'), 'utf8')).toBe('x');
  });

  it('EISDIR (real) through the queue: no order while the path is unreadable, retried later, issued once it is fixed', async () => {
    await fsp.mkdir(pemFile());
    const d = daemonParts();
    d.start();
    const failed = await d.next('failed', 1);
    // Reading fails first, so no certificate is ordered (and lost) while the folder is broken.
    expect(failed.code).toBe('STORE_READ');
    expect(d.issued).toEqual([]);
    expect(d.state.cert(ID).lastError?.message).toContain(`cannot read ${pemFile()}`);
    expect(failed.delayMs).toBeGreaterThan(0);
    expect(await fsp.readdir(dir)).toEqual([`${ID}.pem`]);

    await fsp.rmdir(pemFile());
    await d.clock.advance(failed.delayMs!);
    await d.next('succeeded', 1);
    expect(d.issued).toEqual([ID]);
    expect((await fsp.stat(pemFile())).isFile()).toBe(true);
    expect(await fsp.readdir(dir)).toEqual([`${ID}.pem`]);
    await d.queue.stop();
  });
});

describe('disk faults while writing the state file', () => {
  /** Lets real file I/O finish: settles until `done` holds (no wall-clock wait or assertion). */
  async function until(what: string, done: () => boolean): Promise<void> {
    for (let i = 0; i < 100_000; i++) {
      if (done()) return;
      await settle();
    }
    throw new Error(`never: ${what}`);
  }

  it('EISDIR (real): one warning per failure streak, retried with backoff, written once the path is fixed, nothing lost', async () => {
    const stateFile = path.join(dir, STATE_FILE);
    await fsp.mkdir(stateFile);
    const clock = fakeClock();
    const logger = capturedLogger();
    const attempts = () => logger.lines().filter((l) => l.code === 'STORE_WRITE').length;
    const state = new StateKeeper(dir, emptyState(), logger.log, saveState, { timers: clock, random: () => 0.5 });
    state.setCert(ID, () => ({ ariChosen: true }));
    await until('the first failed write', () => attempts() === 1);
    expect(clock.scheduled()).toEqual([1000]);

    await clock.advance(1000);
    await until('the second failed write', () => attempts() === 2);
    expect(clock.scheduled()).toEqual([2000]);
    // A change during the streak waits for the retry.
    state.setCert('other.example.com', () => ({ ariChosen: false }));
    expect(clock.scheduled()).toEqual([2000]);
    const warnings = logger.lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'STORE_WRITE', file: stateFile });
    expect(String(warnings[0]!.msg)).toContain(`cannot write ${stateFile}: E`);

    await fsp.rmdir(stateFile);
    await clock.advance(2000);
    await until('the write after the fix', () => logger.lines().some((l) => l.msg === 'state file written again'));
    const written = JSON.parse(await fsp.readFile(stateFile, 'utf8')) as { certs: Record<string, unknown> };
    expect(Object.keys(written.certs).sort()).toEqual(['other.example.com', ID]);
    expect(await fsp.readdir(dir)).toEqual([STATE_FILE]);
    expect(clock.scheduled()).toEqual([]);
  });
});
