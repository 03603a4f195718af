import { readFile } from 'node:fs/promises';
import { createFolderStore } from './store/folder.js';
import { decodeState } from './state/codec.js';
import { emptyState, type WhisperState } from './state/types.js';
import { statePath } from './state/file.js';
import { RateBudget } from './limits/budget.js';
import { parseRateLimits } from './limits/config.js';
import { parseRenewBefore } from './lifecycle/schedule.js';
import { statusRows, formatStatusJson, formatStatusTable } from './status/status.js';
import { limitsRows, formatLimitsJson, formatLimitsTable } from './status/limits.js';
import { errorMessage } from './errors.js';
import type { StoredCert } from './store/types.js';
import { loadLocalJournal } from './targets/journal.js';
import { silentLogger } from './log.js';

/** Options of the offline commands. */
export interface OfflineOptions {
  readonly json?: boolean;
  readonly renewBefore?: string;
  readonly rateLimits?: string;
  /** The CA the daemon runs with (`status`): a certificate recorded as issued by another one is due now. */
  readonly directoryUrl?: string;
  readonly now?: number;
  readonly stdout: (t: string) => void;
  readonly stderr: (t: string) => void;
}

/**
 * Reads the folder without changing anything (the daemon may be running): the certificates, and the state file
 * if it parses. Problems are reported on stderr, never fixed here.
 */
async function readFolder(dir: string, stderr: (t: string) => void): Promise<{ certs: StoredCert[]; state: WhisperState; stateFound: boolean }> {
  const certs = await createFolderStore(dir).list((file, err) => stderr(`whisper-ts: ${file}: ${errorMessage(err)}\n`));
  let text: string | undefined;
  try {
    text = await readFile(statePath(dir), 'utf8');
  } catch {
    return { certs, state: emptyState(), stateFound: false };
  }
  try {
    return { certs, state: decodeState(text), stateFound: true };
  } catch (err) {
    stderr(`whisper-ts: the state file is unreadable (${errorMessage(err)}); the daemon will set it aside and rebuild it\n`);
    return { certs, state: emptyState(), stateFound: false };
  }
}

/** `whisper-ts status <folder>`: every certificate, its expiry, next renewal and last error. */
export async function statusCommand(dir: string, o: OfflineOptions): Promise<number> {
  const folder = await readFolder(dir, o.stderr);
  const { certs } = folder;
  // The journal of per-instance targets (this instance's HAProxy) is a file of its own, beside the state.
  const state = { ...folder.state, targets: { ...folder.state.targets, ...(await loadLocalJournal(dir, silentLogger())) } };
  const rows = statusRows(certs, state, o.now ?? Date.now(), {
    ...(o.renewBefore ? { renewBefore: parseRenewBefore(o.renewBefore) } : {}),
    ...(o.directoryUrl ? { directoryUrl: o.directoryUrl } : {}),
  });
  o.stdout(o.json ? formatStatusJson(rows) : formatStatusTable(rows));
  return 0;
}

/** `whisper-ts limits <folder>`: each rate-limit bucket's remaining budget and when the next slot opens. */
export async function limitsCommand(dir: string, o: OfflineOptions): Promise<number> {
  const { certs, state, stateFound } = await readFolder(dir, o.stderr);
  const now = o.now ?? Date.now();
  const budget = new RateBudget({ limits: parseRateLimits(o.rateLimits ?? 'letsencrypt'), events: state.budget });
  // No state file yet (whisper's folder): count the certificates issued in the window, as the daemon will.
  if (!stateFound) for (const c of certs) budget.recordOrder({ names: c.names }, c.notBefore);
  const rows = limitsRows(budget.snapshot(now));
  o.stdout(o.json ? formatLimitsJson(rows) : formatLimitsTable(rows));
  return 0;
}
