import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { decodeTargets, encodeTargets } from '../state/codec-targets.js';
import { StateKeeper, type StateKeeperOptions } from '../state/keeper.js';
import type { TargetJournalData, TargetRecord } from '../state/types.js';
import { writeFileAtomic } from '../store/atomic.js';

/** Where the delivery manager records what each target delivered (see `state/types.ts` {@link TargetRecord}). */
export interface TargetJournal {
  get(target: string, id: string): TargetRecord | undefined;
  /** Replaces the record (`undefined`: drops it). Written in the background. */
  set(target: string, id: string, record: TargetRecord | undefined): void;
  /** Every record of `target`, by certificate id. */
  records(target: string): ReadonlyMap<string, TargetRecord>;
  /** Resolves once what was set so far is written (or its write failed, logged). */
  flush(): Promise<void>;
}

/** The part of {@link StateKeeper} a journal is kept in. */
type JournalKeeper = Pick<StateKeeper, 'targetRecord' | 'targetRecords' | 'setTargetRecord' | 'flush'>;

/**
 * The journal of the targets the leader (or the single instance) delivers: the `targets` section of the state,
 * shared in Consul KV under `--ha` with the rest of it, so that a new leader carries on.
 */
export function stateJournal(state: JournalKeeper): TargetJournal {
  return {
    get: (target, id) => state.targetRecord(target, id),
    set: (target, id, record) => state.setTargetRecord(target, id, record),
    records: (target) => state.targetRecords(target),
    flush: () => state.flush(),
  };
}

/** Name of the journal of per-instance targets in the certificate folder. */
export const LOCAL_JOURNAL_FILE = '.whisper-targets-local.json';

const LOCAL_VERSION = 1;

/** The local journal's path in `dir`. */
export function localJournalPath(dir: string): string {
  return path.join(dir, LOCAL_JOURNAL_FILE);
}

/** Reads the local journal; missing → empty, unreadable → empty with a warning (a target redelivers, harmlessly). */
export async function loadLocalJournal(dir: string, log: Logger): Promise<TargetJournalData> {
  const file = localJournalPath(dir);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file, err: errorMessage(err) }, 'cannot read the local delivery journal; every certificate is delivered again');
    return {};
  }
  try {
    const doc = JSON.parse(text) as { version?: unknown; targets?: unknown };
    if (doc.version !== LOCAL_VERSION) throw new Error(`version ${JSON.stringify(doc.version)} is not ${LOCAL_VERSION}`);
    return doc.targets === undefined ? {} : decodeTargets(doc.targets, 'targets');
  } catch (err) {
    log.warn({ file, code: 'STORE_CORRUPT', err: errorMessage(err) }, 'the local delivery journal is unreadable; every certificate is delivered again');
    return {};
  }
}

/** Writes the local journal atomically, mode 0600. Throws `STORE_WRITE`. */
export async function saveLocalJournal(dir: string, data: TargetJournalData): Promise<void> {
  const doc = { version: LOCAL_VERSION, targets: encodeTargets(data) ?? {} };
  await writeFileAtomic(localJournalPath(dir), `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}

/**
 * The journal of per-instance targets (HAProxy's runtime socket): a file of this instance's folder, never shared
 * (what it records is what this node's destination holds). Written in the background like the state file (a
 * {@link StateKeeper} whose save writes the journal alone).
 */
export async function openLocalJournal(dir: string, log: Logger, options: StateKeeperOptions = {}): Promise<TargetJournal> {
  const data = await loadLocalJournal(dir, log);
  const label = { what: 'local delivery journal', file: localJournalPath(dir) };
  const keeper = new StateKeeper(dir, { budget: [], certs: {}, targets: data }, log, (d, state) => saveLocalJournal(d, state.targets ?? {}), { label, ...options });
  return stateJournal(keeper);
}
