import { spawn } from 'node:child_process';
import { WhisperError } from '../errors.js';
import type { DnsProvider, TxtRecord } from './provider.js';

/** Options of {@link createExecProvider}. */
export interface ExecProviderOptions {
  /** The program to run (no shell is involved). */
  command: string;
  /** Arguments put before the action. @default [] */
  args?: readonly string[];
  /** Kill the hook (its whole process group) after this long. @default 60000 */
  timeoutMs?: number;
  /** Variables added to whisper-ts's own environment for the hook. @default {} */
  env?: Readonly<Record<string, string>>;
  /** Grace between SIGTERM and SIGKILL when the hook is stopped. @default 2000 */
  killGraceMs?: number;
}

/** How a hook run ended. */
interface HookResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;
}

const STDERR_KEEP = 64 * 1024;

function runHook(command: string, args: readonly string[], options: ExecProviderOptions, signal?: AbortSignal) {
  return new Promise<HookResult>((resolve, reject) => {
    // Own process group, so a timeout also kills what the script started (a `sleep` holding its pipes).
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 2000);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs ?? 60_000);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('close', (code, sig) => {
      done();
      resolve({ code, signal: sig, stderr, timedOut, aborted });
    });
  });
}

/** The last few non-empty lines of a hook's stderr, with the TXT value removed. */
export function stderrTail(stderr: string, secret: string, lines = 5): string {
  const clean = secret.length > 0 ? stderr.split(secret).join('[redacted]') : stderr;
  const tail = clean
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-lines)
    .join(' | ');
  return tail.length > 1000 ? `…${tail.slice(-1000)}` : tail;
}

/**
 * The `exec` DNS provider, modelled on lego's: for each record it runs
 * `command [...args] present <fqdn> <value>` (and `cleanup` afterwards). The FQDN carries a trailing dot,
 * `_acme-challenge.www.example.com.`, as lego passes it, so existing lego hook scripts work unchanged.
 * No shell is involved. A non-zero exit or a timeout is a retryable `DNS_PROVIDER` error with the exit
 * code and the last lines of stderr (the value scrubbed from them); a command that cannot start is not
 * retryable. The value is on the hook's command line, as with lego: visible to local users in `ps`.
 */
export function createExecProvider(options: ExecProviderOptions): DnsProvider {
  const args = options.args ?? [];

  async function run(action: 'present' | 'cleanup', record: TxtRecord, signal?: AbortSignal): Promise<void> {
    const fqdn = `${record.fqdn.replace(/\.$/, '')}.`;
    const what = `exec hook ${options.command} ${action} ${fqdn}`;
    if (signal?.aborted) throw new WhisperError('ABORTED', `${what}: aborted`);
    let result: HookResult;
    try {
      result = await runHook(options.command, [...args, action, fqdn, record.value], options, signal);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new WhisperError('DNS_PROVIDER', `${what}: cannot start: ${code}`, { cause: err });
    }
    if (result.aborted) throw new WhisperError('ABORTED', `${what}: aborted`);
    const tail = stderrTail(result.stderr, record.value);
    const detail = tail ? `: ${tail}` : '';
    if (result.timedOut) {
      throw new WhisperError('DNS_PROVIDER', `${what}: timed out after ${options.timeoutMs ?? 60_000} ms${detail}`, {
        retryable: true,
      });
    }
    if (result.code !== 0) {
      const how = result.code === null ? `killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.code}`;
      throw new WhisperError('DNS_PROVIDER', `${what}: ${how}${detail}`, { retryable: true });
    }
  }

  return {
    name: 'exec',

    async present(records, signal) {
      for (const record of records) await run('present', record, signal);
    },

    async cleanUp(records, signal) {
      // Every record gets its clean-up even when one fails; the first failure is reported.
      const errors: unknown[] = [];
      for (const record of records) {
        try {
          await run('cleanup', record, signal);
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw errors[0];
    },
  } satisfies DnsProvider;
}
