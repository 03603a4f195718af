import { errorMessage } from '../errors.js';
import { probeWritable, type ProbeFs } from '../store/probe.js';
import { systemTimers, type Timers } from '../time.js';

/** Answer of {@link checkFolderWritable}: `/healthz` sends 200 when `ok`, else 503 with `reason`. */
export interface Health {
  readonly ok: boolean;
  /** Why the daemon is not healthy (short, free of secrets; the folder path is not one). */
  readonly reason?: string;
}

/** The file operations of the probe; tests inject failures and hangs through it. */
export type HealthFs = ProbeFs;

/** Options of {@link checkFolderWritable}. */
export interface HealthOptions {
  /** Longest wait for the probe; a hung mount (NFS) answers unhealthy after it. @default 3000 */
  readonly timeoutMs?: number;
  /** File operations. @default node's fs.promises */
  readonly fs?: HealthFs;
  /** Timers of the timeout. @default systemTimers */
  readonly timers?: Timers;
}

/** Probes in flight, by folder: overlapping checks share one, and it leaves once it settles. */
const inFlight = new Map<string, Promise<void>>();

function shared(folder: string, fs: HealthFs | undefined): Promise<void> {
  let running = inFlight.get(folder);
  if (!running) {
    const started = probeWritable(folder, fs).finally(() => inFlight.delete(folder));
    inFlight.set(folder, started);
    running = started;
  }
  return running;
}

function failure(folder: string, err: unknown): Health {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return { ok: false, reason: `certificate folder ${folder} is not writable: ${typeof code === 'string' ? code : errorMessage(err)}` };
}

/**
 * Healthy when the process can write to `folder`: it creates a file with a unique name there (`open` with `wx`,
 * mode 0600), writes one byte, closes and removes it. This catches what permission bits do not show: a read-only
 * mount (`EROFS`), a full disk (`ENOSPC`), a missing folder (`ENOENT`). Nothing is cached; a probe still in flight
 * (even one past its timeout) is shared by the checks that overlap it, so a hung mount holds one probe, not one
 * per check.
 */
export async function checkFolderWritable(folder: string, options: HealthOptions = {}): Promise<Health> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const timers = options.timers ?? systemTimers;
  let timer: unknown;
  const timedOut = new Promise<Health>((resolve) => {
    timer = timers.setTimeout(() => resolve({ ok: false, reason: `certificate folder ${folder} did not answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const checked = shared(folder, options.fs).then(
    (): Health => ({ ok: true }),
    (err: unknown) => failure(folder, err),
  );
  try {
    return await Promise.race([checked, timedOut]);
  } finally {
    timers.clearTimeout(timer);
  }
}
