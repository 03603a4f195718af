import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WhisperError } from '../errors.js';
import type { BudgetEvent } from '../limits/replay.js';
import { writeFileAtomic } from '../store/atomic.js';
import { decodeState, encodeState } from './codec.js';
import { STATE_FILE, emptyState, type WhisperState } from './types.js';

/** A certificate found in the folder, as an issued order for rebuilding the budget. */
export interface IssuedCert {
  readonly names: readonly string[];
  readonly notBefore: Date;
}

/** Options of {@link loadState}. */
export interface LoadStateOptions {
  /** Clock (epoch milliseconds), for the name of a corrupt file kept aside. */
  now: () => number;
  /**
   * The certificates in the folder, to rebuild the budget history when there is no usable state file:
   * each one's `notBefore` counts as one order of its names. @default none: an empty history
   */
  rebuild?: () => Promise<readonly IssuedCert[]> | readonly IssuedCert[];
}

/** What {@link loadState} found. */
export interface LoadedState {
  readonly state: WhisperState;
  /** Set when the file was corrupt: what was wrong and where it was kept aside. The caller logs it. */
  readonly problem?: string;
}

/** The state file's path in `dir`. */
export function statePath(dir: string): string {
  return path.join(dir, STATE_FILE);
}

function stamp(now: number): string {
  return new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

async function rebuilt(options: LoadStateOptions): Promise<WhisperState> {
  const certs = options.rebuild ? await options.rebuild() : [];
  const budget: BudgetEvent[] = certs
    .map((c): BudgetEvent => ({ type: 'order', at: c.notBefore.getTime(), names: [...c.names] }))
    .sort((a, b) => a.at - b.at);
  return { ...emptyState(), budget };
}

/**
 * Read `.whisper-state.json` from `dir`. Missing: a fresh state whose budget history is rebuilt from the
 * certificates (an upgrade from whisper starts with the issuance of the last days counted). Corrupt (not JSON,
 * another version, a field of the wrong shape): the file is renamed to `.whisper-state.json.corrupt-<time>`,
 * the state rebuilt the same way, and `problem` says so. An unreadable file throws `STORE_READ`; a failed
 * rename `STORE_WRITE`.
 */
export async function loadState(dir: string, options: LoadStateOptions): Promise<LoadedState> {
  const file = statePath(dir);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: await rebuilt(options) };
    throw new WhisperError('STORE_READ', `cannot read the state file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return { state: decodeState(text) };
  } catch (err) {
    const aside = `${file}.corrupt-${stamp(options.now())}`;
    try {
      await fsp.rename(file, aside);
    } catch (renameErr) {
      throw new WhisperError('STORE_WRITE', `cannot move the corrupt state file ${file} aside: ${(renameErr as Error).message}`, {
        cause: renameErr,
      });
    }
    const problem = `state file ${file} is corrupt (${(err as Error).message}); kept as ${path.basename(aside)}, rate-limit history rebuilt from the certificates`;
    return { state: await rebuilt(options), problem };
  }
}

/** Write the state file atomically (temporary file, fsync, rename), mode 0600. Throws `STORE_WRITE`. */
export async function saveState(dir: string, state: WhisperState): Promise<void> {
  await writeFileAtomic(statePath(dir), encodeState(state), { mode: 0o600 });
}
