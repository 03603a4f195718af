import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The environment variable that marks every server of one test run, so a cleanup can find them all. */
export const RUN_MARKER = 'WHISPER_TS_RUN_ID';

/** A server process started by the tests. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** The process, for signals (`reload` of HAProxy, `kill -9` in fault tests). */
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM the process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log. */
  logTail(lines?: number): string;
}

/** Options of {@link startProcess}. */
export interface StartOptions {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Polled until true; the start fails if the process exits first or this never holds. */
  ready: () => Promise<boolean>;
  /** @default 60000 */
  readyTimeoutMs?: number;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts a server in its own process group. `setpriv --pdeathsig KILL` makes the kernel kill it when the process
 * that started it dies, so even a `kill -9` of the test runner leaves nothing behind; the run marker in its
 * environment lets `scripts/test.sh` find stragglers too.
 */
export async function startProcess(options: StartOptions): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'a');
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', options.command, ...options.args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, [RUN_MARKER]: process.env[RUN_MARKER] ?? 'adhoc' },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);

  const handle: ServerProcess = {
    name: options.name,
    pid,
    logFile: options.logFile,
    child,
    exited,
    logTail: (lines = 30) => tail(options.logFile, lines),
    async stop(graceMs = 5000) {
      if (done) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        return;
      }
      const killed = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!killed) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await exited;
      }
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let delay = 50;
  while (Date.now() < deadline) {
    if (done) throw new Error(`${options.name} exited during start-up:\n${handle.logTail()}`);
    if (await options.ready().catch(() => false)) return handle;
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
  await handle.stop();
  throw new Error(`${options.name} not ready in time:\n${handle.logTail()}`);
}

/** GET a URL and report whether it answered 2xx. */
export async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}
