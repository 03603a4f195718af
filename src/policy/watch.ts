import { createHash } from 'node:crypto';
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readFile as fsReadFile, realpath } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { systemTimers, type Timers } from '../time.js';
import { parsePolicyText, type ReadTextFile } from './file.js';
import type { PolicyFile } from './file-types.js';

/** Where SIGHUP comes from: `process`, or an `EventEmitter` in tests. */
export interface SignalSource {
  on(event: 'SIGHUP', listener: () => void): unknown;
  off(event: 'SIGHUP', listener: () => void): unknown;
}

/** Watches a folder: `fs.watch` by default. */
export type WatchFolder = (dir: string, listener: () => void) => Pick<FSWatcher, 'close' | 'on'>;

/** Options of {@link watchPolicyFile}. */
export interface WatchPolicyOptions {
  /** A valid new file: the caller swaps it in (new rules apply at the next decision; running orders finish). */
  onChange(file: PolicyFile): void;
  /** An invalid new file (`CONFIG_INVALID`, `<file>:<line>: ...`) or an unreadable one: the old file stays in force. */
  onError(err: WhisperError): void;
  /** Stops watching when aborted. */
  signal?: AbortSignal;
  log: Logger;
  /** @default systemTimers */
  timers?: Timers;
  /** Where SIGHUP comes from. @default process */
  signals?: SignalSource;
  /** Quiet time after the last folder event before the file is read (editors write in several steps). @default 200 */
  debounceMs?: number;
  /** Reads the file every this often too, in case the folder's events are missed (network file systems); 0: never. @default 30000 */
  pollMs?: number;
  /** @default fs.readFile utf8 */
  readFile?: ReadTextFile;
  /** @default fs.watch */
  watchFolder?: WatchFolder;
}

const defaultWatch: WatchFolder = (dir, listener) => fsWatch(dir, { persistent: false }, () => listener());

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Reloads the config file when it changes and on SIGHUP. It watches the file's folder, not the file (editors that
 * write a new file and rename it over the old one, Kubernetes ConfigMaps that swap a `..data` symlink), and the
 * folder of the file the path resolves to when it is a symlink elsewhere; after events settle (`debounceMs`) it reads
 * the file and acts only when its content hash differs from the last one it acted on, so unrelated events in the
 * folder cost a read. A valid new file goes to `onChange`; an invalid or unreadable one to `onError`, once per content
 * (the caller keeps the old file). SIGHUP reloads even when the content is the same (a TSIG secret file it names may
 * have changed). Reads never overlap. The first read (to learn the current hash) happens at once; the caller has
 * loaded the file already. Returns a function that stops watching (also when `signal` aborts).
 */
export function watchPolicyFile(path: string, options: WatchPolicyOptions): () => void {
  const timers = options.timers ?? systemTimers;
  const signals = options.signals ?? process;
  const read = options.readFile ?? ((p: string) => fsReadFile(p, 'utf8'));
  const watchFolder = options.watchFolder ?? defaultWatch;
  const debounceMs = options.debounceMs ?? 200;
  const pollMs = options.pollMs ?? 30_000;
  const log = options.log;
  const file = resolve(path);
  const watchers = new Map<string, Pick<FSWatcher, 'close' | 'on'>>();
  let lastHash: string | undefined;
  let lastReadError: string | undefined;
  let debounce: unknown;
  let poll: unknown;
  let running = false;
  let again: 'no' | 'check' | 'force' = 'no';
  let stopped = false;

  const rewatch = async (): Promise<void> => {
    const dirs = new Set([dirname(file)]);
    try {
      dirs.add(dirname(await realpath(file)));
    } catch {
      // Missing for now (being replaced): the folder of the path is watched.
    }
    if (stopped) return;
    for (const [dir, w] of watchers) {
      if (dirs.has(dir)) continue;
      w.close();
      watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const w = watchFolder(dir, () => schedule());
        w.on('error', (err: unknown) => log.warn({ dir, err: errorMessage(err) }, 'config file folder watch failed; polling only'));
        watchers.set(dir, w);
      } catch (err) {
        log.warn({ dir, err: errorMessage(err) }, 'cannot watch the config file folder; polling only');
      }
    }
  };

  const check = async (force: boolean): Promise<void> => {
    if (stopped) return;
    if (running) {
      again = force || again === 'force' ? 'force' : 'check';
      return;
    }
    running = true;
    try {
      let text: string;
      try {
        text = await read(file);
      } catch (err) {
        const message = `${path}: cannot read the config file: ${errorMessage(err)}; the previous one stays in force`;
        if (force || message !== lastReadError) options.onError(new WhisperError('CONFIG_INVALID', message, { cause: err }));
        lastReadError = message;
        return;
      }
      lastReadError = undefined;
      const hash = sha256(text);
      if (!force && hash === lastHash) return;
      lastHash = hash;
      try {
        const next = await parsePolicyText(text, path, read);
        if (!stopped) options.onChange(next);
      } catch (err) {
        if (!stopped) options.onError(err instanceof WhisperError ? err : new WhisperError('CONFIG_INVALID', `${path}: ${errorMessage(err)}`, { cause: err }));
      }
    } finally {
      running = false;
      await rewatch();
      const next = again;
      again = 'no';
      if (next !== 'no') await check(next === 'force');
    }
  };

  const run = (force: boolean): void => {
    check(force).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'config file reload failed'));
  };

  function schedule(): void {
    if (stopped) return;
    if (debounce !== undefined) timers.clearTimeout(debounce);
    debounce = timers.setTimeout(() => {
      debounce = undefined;
      run(false);
    }, debounceMs);
  }

  const schedulePoll = (): void => {
    if (pollMs <= 0 || stopped) return;
    poll = timers.setTimeout(() => {
      run(false);
      schedulePoll();
    }, pollMs);
  };

  const onHup = (): void => {
    log.info({ file: basename(file) }, 'SIGHUP: reloading the config file');
    run(true);
  };

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (debounce !== undefined) timers.clearTimeout(debounce);
    if (poll !== undefined) timers.clearTimeout(poll);
    for (const w of watchers.values()) w.close();
    watchers.clear();
    signals.off('SIGHUP', onHup);
    options.signal?.removeEventListener('abort', stop);
  };

  if (options.signal?.aborted) return () => {};
  options.signal?.addEventListener('abort', stop, { once: true });
  signals.on('SIGHUP', onHup);
  void (async () => {
    try {
      lastHash = sha256(await read(file));
    } catch {
      // Unreadable now: the first readable content counts as a change.
    }
    await rewatch();
    schedulePoll();
  })();
  return stop;
}
