import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { DnsProvider, TxtRecord } from '../dns/provider.js';
import { WhisperError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { writeFileAtomic } from '../store/atomic.js';

/** Name of the challenge journal in the certificate folder. */
export const JOURNAL_FILE = '.whisper-challenges.json';

/** The journal file of a config file's named DNS back end (names are `[A-Za-z0-9._-]`, checked by the file's schema). */
export const backendJournalFile = (backend: string): string => `.whisper-challenges-${backend}.json`;

/** Whether `name` is a challenge journal file of the folder, the default one or a back end's. */
export const isJournalFile = (name: string): boolean => name === JOURNAL_FILE || /^\.whisper-challenges-[A-Za-z0-9._-]+\.json$/.test(name);

const VERSION = 1;

/**
 * The challenge TXT records published and not yet removed, kept on disk so that the records of a
 * killed run can be removed at the next start. Every change is an atomic write (mode 0600: the TXT
 * values are secrets until validated); changes from concurrent orders are applied in order, those that
 * arrive while a write is under way together in the next write (a burst of orders shares a few writes).
 */
export interface ChallengeJournal {
  /** The file. */
  readonly file: string;
  /** Remember `records` (before they are published). */
  add(records: readonly TxtRecord[]): Promise<void>;
  /** Forget `records` (after they were removed). Unknown records are ignored. */
  remove(records: readonly TxtRecord[]): Promise<void>;
  /** Every record remembered, the ones of earlier runs included. */
  pending(): Promise<TxtRecord[]>;
}

/** Options of {@link createChallengeJournal}. */
export interface ChallengeJournalOptions {
  /** @default silent */
  log?: Logger;
  /**
   * The file's name in `dir`: a config file's named DNS back end keeps its own journal, so that records a killed run
   * left behind are removed at start through the back end that wrote them. @default `.whisper-challenges.json`
   */
  fileName?: string;
}

/** One change waiting for the next write: the list it makes of the current one. */
interface JournalOp {
  readonly apply: (current: TxtRecord[]) => TxtRecord[];
  readonly resolve: (records: TxtRecord[]) => void;
  readonly reject: (err: unknown) => void;
}

/** The journal `.whisper-challenges.json` in `dir`. Nothing is read before the first call. */
export function createChallengeJournal(dir: string, options: ChallengeJournalOptions = {}): ChallengeJournal {
  const file = path.join(dir, options.fileName ?? JOURNAL_FILE);
  const log = options.log ?? silentLogger();
  let records: TxtRecord[] | undefined;
  let waiting: JournalOp[] = [];
  let writing = false;

  async function load(): Promise<TxtRecord[]> {
    records ??= await readJournal(file, log);
    return records;
  }

  async function save(next: TxtRecord[]): Promise<void> {
    if (next.length === 0) {
      await fsp.unlink(file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw new WhisperError('STORE_WRITE', `cannot remove ${file}: ${err.message}`, { cause: err });
      });
    } else {
      await writeFileAtomic(file, `${JSON.stringify({ version: VERSION, records: next }, null, 2)}\n`, { mode: 0o600 });
    }
    records = next;
  }

  // One write at a time, each of the whole list: the changes waiting meanwhile are applied together in the next.
  async function drain(): Promise<void> {
    writing = true;
    try {
      while (waiting.length > 0) {
        const ops = waiting;
        waiting = [];
        try {
          const current = await load();
          let next = current;
          const results = ops.map((op) => (next = op.apply(next)));
          if (next !== current) await save(next);
          ops.forEach((op, i) => op.resolve(results[i]!));
        } catch (err) {
          for (const op of ops) op.reject(err);
        }
      }
    } finally {
      writing = false;
    }
  }

  function change(apply: JournalOp['apply']): Promise<TxtRecord[]> {
    return new Promise<TxtRecord[]>((resolve, reject) => {
      waiting.push({ apply, resolve, reject });
      if (!writing) void drain();
    });
  }

  return {
    file,
    add: async (added) => {
      await change((current) => {
        const fresh = added.filter((r) => !current.some((c) => same(c, r)));
        return fresh.length === 0 ? current : [...current, ...fresh.map(({ fqdn, value }) => ({ fqdn, value }))];
      });
    },
    remove: async (removed) => {
      await change((current) => {
        const next = current.filter((c) => !removed.some((r) => same(c, r)));
        return next.length === current.length ? current : next;
      });
    },
    pending: async () => [...(await change((current) => current))],
  } satisfies ChallengeJournal;
}

/**
 * Removes the challenge records a killed run left behind (those still in the journal) and forgets
 * them. Resolves with how many there were. Never throws: a failure is logged and the records stay
 * in the journal for the next start.
 */
export async function cleanOrphanChallenges(
  journal: ChallengeJournal,
  dns: DnsProvider,
  log: Logger,
  signal?: AbortSignal,
): Promise<number> {
  let orphans: TxtRecord[] = [];
  try {
    orphans = await journal.pending();
    if (orphans.length === 0) return 0;
    // Values are secrets until validated: log the names only.
    log.info({ count: orphans.length, provider: dns.name, records: orphans.map((r) => r.fqdn) }, 'removing challenge TXT records left by an earlier run');
    await dns.cleanUp(orphans, signal);
    await journal.remove(orphans);
    log.info({ count: orphans.length }, 'challenge TXT records of an earlier run removed');
    return orphans.length;
  } catch (err) {
    log.warn({ count: orphans.length, provider: dns.name, err: errorMessage(err) }, 'could not remove challenge TXT records of an earlier run; trying again at the next start');
    return orphans.length;
  }
}

function same(a: TxtRecord, b: TxtRecord): boolean {
  return a.fqdn === b.fqdn && a.value === b.value;
}

async function readJournal(file: string, log: Logger): Promise<TxtRecord[]> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new WhisperError('STORE_READ', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = parseJournal(text);
  if (parsed === undefined) {
    // Nothing to clean up from it; the next change overwrites it.
    log.warn({ file, code: 'STORE_CORRUPT' }, 'the challenge journal does not parse; ignoring it');
    return [];
  }
  return parsed;
}

function parseJournal(text: string): TxtRecord[] | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const { version, records } = data as { version?: unknown; records?: unknown };
  if (version !== VERSION || !Array.isArray(records)) return undefined;
  const out: TxtRecord[] = [];
  for (const r of records as unknown[]) {
    const { fqdn, value } = (r ?? {}) as { fqdn?: unknown; value?: unknown };
    if (typeof fqdn !== 'string' || typeof value !== 'string') return undefined;
    out.push({ fqdn, value });
  }
  return out;
}
