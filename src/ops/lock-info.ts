import { WhisperError } from '../errors.js';

/** Name of the folder lock, in the certificate folder. */
export const LOCK_FILE = '.whisper.lock';

/** Who holds a folder: the daemon, or a command acting directly (`renew`, `revoke`, `import`). */
export type LockKind = 'daemon' | 'command';

/** The content of `<folder>/.whisper.lock` (JSON). Never a secret: the token file's path, not the token. */
export interface LockInfo {
  readonly pid: number;
  /** `os.hostname()` of the holder. */
  readonly host: string;
  /** When the holder took the lock, ISO. */
  readonly started: string;
  readonly kind: LockKind;
  /** Base URL of the holder's admin API (`http://127.0.0.1:9400`, without `/api`), when it serves one. */
  readonly api?: string;
  /** Path of the admin token file the holder reads (never the token itself). */
  readonly tokenFile?: string;
  /** The holder's last sign of life, ISO: rewritten every heartbeat. */
  readonly heartbeat: string;
}

/** How a lock's staleness is judged: this process's identity and view of the world. */
export interface StaleCheck {
  readonly pid: number;
  readonly host: string;
  readonly now: number;
  /** A heartbeat older than this means the holder is gone. */
  readonly staleMs: number;
  /** Whether a process of this host exists (`process.kill(pid, 0)`). */
  readonly alive: (pid: number) => boolean;
}

/**
 * Whether the holder of `info` is gone. On this host: its pid does not exist, or it is our own pid (a container
 * restarted as pid 1 finds its previous life's lock). Anywhere: its heartbeat is older than `staleMs` (another host
 * sharing the volume cannot be asked about its pids; a hung or pid-reusing holder ages out too).
 */
export function isStale(info: LockInfo, c: StaleCheck): boolean {
  const beat = Date.parse(info.heartbeat);
  if (!Number.isFinite(beat) || c.now - beat > c.staleMs) return true;
  if (info.host !== c.host) return false;
  return info.pid === c.pid || !c.alive(info.pid);
}

/** The real liveness check: signal 0 tells whether the pid exists (EPERM: it exists, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Parses the lock file's text. A file that is not a lock (garbage, a half-written file of another tool) throws
 * `STORE_CORRUPT` naming it: nobody decides anything on a lock they cannot read.
 */
export function parseLockInfo(file: string, text: string): LockInfo {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new WhisperError('STORE_CORRUPT', `${file}: not a lock file (no JSON): remove it if no whisper-ts runs on this folder`, { cause: err });
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const ok = Number.isInteger(o.pid) && typeof o.host === 'string' && typeof o.started === 'string' &&
    (o.kind === 'daemon' || o.kind === 'command') && (o.api === undefined || typeof o.api === 'string') &&
    (o.tokenFile === undefined || typeof o.tokenFile === 'string');
  if (!ok) throw new WhisperError('STORE_CORRUPT', `${file}: not a lock file (pid, host, started, kind): remove it if no whisper-ts runs on this folder`);
  return {
    pid: o.pid as number,
    host: o.host as string,
    started: o.started as string,
    kind: o.kind as LockKind,
    ...(typeof o.api === 'string' ? { api: o.api } : {}),
    ...(typeof o.tokenFile === 'string' ? { tokenFile: o.tokenFile } : {}),
    // A lock written without a heartbeat counts from its start.
    heartbeat: typeof o.heartbeat === 'string' ? o.heartbeat : (o.started as string),
  };
}

/** One line naming the holder, for errors and logs. */
export function describeHolder(info: LockInfo): string {
  return `${info.kind === 'daemon' ? 'the daemon' : 'a command'} (pid ${info.pid} on ${info.host}, since ${info.started})`;
}

/** Whether two lock records are the same holder's (the heartbeat aside). */
export function sameHolder(a: LockInfo, b: LockInfo): boolean {
  return a.pid === b.pid && a.host === b.host && a.started === b.started && a.kind === b.kind;
}
