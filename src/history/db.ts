import { closeSync, existsSync, openSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import type * as SqliteModule from 'node:sqlite';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { WhisperError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { decodeRow, encodeEvent, INSERT_EVENT, selectEvents, type EventColumns } from './query.js';
import { migrate, SCHEMA_VERSION, schemaVersion } from './schema.js';
import { DEFAULT_HISTORY_DAYS, HISTORY_FILE, type HistoryEvent, type HistoryQuery, type HistoryRow, type HistoryStore } from './types.js';

const DAY_MS = 86_400_000;
/** How long a write waits for another process's lock (the `history` command reading, another instance writing). */
const BUSY_TIMEOUT_MS = 5000;
/** The files SQLite keeps beside a database. */
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;
/** SQLite's result codes for a file that is not (or no longer) a database. */
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** Options of {@link openHistory}. */
export interface OpenHistoryOptions {
  /** Who records: stored in every row. @default `<hostname>:<pid>` */
  readonly instance?: string;
  /** Rows older than this many days are deleted (on open and by `prune`). @default DEFAULT_HISTORY_DAYS */
  readonly retentionDays?: number;
  /** Warnings: a file set aside, a newer schema, a lost event (once per distinct error). @default silent */
  readonly log?: Logger;
  /** The clock of the prune on open and of the corrupt file's name. @default Date.now */
  readonly now?: () => number;
  /**
   * Read the file without ever creating, migrating, pruning or setting it aside (the `history` command): a missing or
   * unreadable file throws `HISTORY`. @default false
   */
  readonly readOnly?: boolean;
}

type Sqlite = typeof SqliteModule;
let sqliteModule: Sqlite | undefined;

/**
 * node:sqlite, loaded on first use: a CLI command that never opens the history never loads it, and Node 22's
 * "SQLite is an experimental feature" warning (printed once on load) stays out of the daemon's output.
 */
function sqlite(): Sqlite {
  if (sqliteModule) return sqliteModule;
  const emit = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    if (/SQLite is an experimental feature/.test(typeof warning === 'string' ? warning : warning.message)) return;
    (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    sqliteModule = process.getBuiltinModule('node:sqlite') as Sqlite | undefined;
  } finally {
    process.emitWarning = emit;
  }
  if (!sqliteModule) throw new WhisperError('HISTORY', `node:sqlite is not available in Node ${process.versions.node} (Node 22.13 or later has it)`);
  return sqliteModule;
}

function isCorrupt(err: unknown): boolean {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  return code === SQLITE_NOTADB || code === SQLITE_CORRUPT;
}

/** `20260301T120000Z`: the moment in a file name (as the state file's `.corrupt-` copies). */
function stamp(now: number): string {
  return new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

/** Creates the database file with mode 0600 unless it exists: SQLite gives its -wal and -shm files the same mode. */
function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new WhisperError('HISTORY', `cannot create the history ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Renames a file that is no database (and its side files) to `<file>.corrupt-<time>`; never deletes it. */
function setAside(file: string, now: number): string {
  let aside = `${file}.corrupt-${stamp(now)}`;
  for (let n = 1; existsSync(aside); n += 1) aside = `${file}.corrupt-${stamp(now)}-${n}`;
  try {
    renameSync(file, aside);
  } catch (err) {
    throw new WhisperError('HISTORY', `cannot move the corrupt history ${file} aside: ${errorMessage(err)}`, { cause: err });
  }
  // A stale -wal beside a new database would be replayed into it: it goes with the file it belongs to.
  for (const side of SIDE_FILES) {
    try {
      if (existsSync(file + side)) renameSync(file + side, aside + side);
    } catch {
      // The -shm is rebuilt from the -wal; a -wal that cannot move makes the next open fail and say so.
    }
  }
  return aside;
}

function closeQuietly(db: DatabaseSync): void {
  try {
    db.close();
  } catch {
    // Already closed.
  }
}

function connect(file: string, readOnly: boolean): DatabaseSync {
  const db = new (sqlite().DatabaseSync)(file, readOnly ? { readOnly: true } : {});
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db;
}

function hasEvents(db: DatabaseSync): boolean {
  return db.prepare(`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'events'`).get() !== undefined;
}

/** Opens the file for writing: WAL, migrated. A file of a newer schema is reopened read-only instead. */
function openWritable(file: string, log: Logger): { db: DatabaseSync; writable: boolean } {
  const db = connect(file, false);
  try {
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) {
      db.close();
      log.warn(
        { file, code: 'HISTORY', version, known: SCHEMA_VERSION },
        `the history ${file} has schema version ${version}, newer than this build knows (${SCHEMA_VERSION}): it is read, events are not recorded`,
      );
      return { db: connect(file, true), writable: false };
    }
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    const { from, to } = migrate(db);
    if (from !== to) log.debug({ file, from, to }, `history schema migrated from version ${from} to ${to}`);
    return { db, writable: true };
  } catch (err) {
    closeQuietly(db);
    throw err;
  }
}

interface Opened {
  readonly db: DatabaseSync;
  readonly writable: boolean;
  /** Whether the events table exists (a read-only file of version 0 has none). */
  readonly tableExists: boolean;
}

function openFile(file: string, o: OpenHistoryOptions, log: Logger, now: () => number): Opened {
  if (o.readOnly) {
    if (!existsSync(file)) throw new WhisperError('HISTORY', `no history at ${file}`);
    const db = connect(file, true);
    try {
      const version = schemaVersion(db);
      if (version > SCHEMA_VERSION) log.warn({ file, code: 'HISTORY', version, known: SCHEMA_VERSION }, `the history ${file} has schema version ${version}, newer than this build knows (${SCHEMA_VERSION})`);
      return { db, writable: false, tableExists: hasEvents(db) };
    } catch (err) {
      closeQuietly(db);
      throw err;
    }
  }
  createPrivate(file);
  let opened: { db: DatabaseSync; writable: boolean };
  try {
    opened = openWritable(file, log);
  } catch (err) {
    if (!isCorrupt(err)) throw err;
    const aside = setAside(file, now());
    log.warn({ file, aside, code: 'HISTORY' }, `the history ${file} is not a usable SQLite database (${errorMessage(err)}): kept as ${basename(aside)}, a new history is started`);
    createPrivate(file);
    opened = openWritable(file, log);
  }
  try {
    return { ...opened, tableExists: opened.writable || hasEvents(opened.db) };
  } catch (err) {
    closeQuietly(opened.db);
    throw err;
  }
}

/**
 * Opens (creating and migrating it when needed) the history of a certificate folder, `<folder>/.whisper-history.sqlite`.
 * A file that is no SQLite database is renamed to `<file>.corrupt-<time>` (a warning names it) and a new one started;
 * a file of a newer schema is opened read-only (a warning; records are dropped, queries work). Rows older than the
 * retention are deleted now and by {@link HistoryStore.prune}.
 * @throws WhisperError `HISTORY` when the file cannot be created or opened (or node:sqlite is missing); read-only,
 * also when it is missing or no database.
 */
export function openHistory(folder: string, options: OpenHistoryOptions = {}): HistoryStore {
  const file = join(folder, HISTORY_FILE);
  const log = options.log ?? silentLogger();
  const now = options.now ?? Date.now;
  let opened: Opened;
  try {
    opened = openFile(file, options, log, now);
  } catch (err) {
    if (err instanceof WhisperError) throw err;
    throw new WhisperError('HISTORY', `cannot open the history ${file}: ${errorMessage(err)}`, { cause: err });
  }
  const retention = options.retentionDays !== undefined && options.retentionDays > 0 ? options.retentionDays : DEFAULT_HISTORY_DAYS;
  const store = new SqliteHistory(file, opened, options.instance ?? `${hostname()}:${process.pid}`, retention, log);
  store.prune(now());
  return store;
}

class SqliteHistory implements HistoryStore {
  private insert: StatementSync | undefined;
  private readonly warned = new Set<string>();
  private readonly db: DatabaseSync;
  private readonly writable: boolean;
  private readonly tableExists: boolean;

  constructor(
    private readonly file: string,
    opened: Opened,
    private readonly instance: string,
    private readonly retentionDays: number,
    private readonly log: Logger,
  ) {
    ({ db: this.db, writable: this.writable, tableExists: this.tableExists } = opened);
  }

  record(event: HistoryEvent): HistoryRow | undefined {
    if (!this.writable) return undefined;
    try {
      const columns = encodeEvent(event, this.instance);
      this.insert ??= this.db.prepare(INSERT_EVENT);
      const result = this.insert.run(columns as unknown as Record<string, string | number | null>);
      return decodeRow(columns, Number(result.lastInsertRowid));
    } catch (err) {
      this.warnOnce(`cannot record a ${String(event?.kind)} event, it is lost`, err);
      return undefined;
    }
  }

  query(q: HistoryQuery = {}): HistoryRow[] {
    if (!this.tableExists) return [];
    const { sql, params } = selectEvents(q);
    let rows: unknown[];
    try {
      rows = this.db.prepare(sql).all(...params);
    } catch (err) {
      throw new WhisperError('HISTORY', `cannot read the history ${this.file}: ${errorMessage(err)}`, { cause: err });
    }
    return rows.map((r) => {
      const row = r as EventColumns;
      return decodeRow(row, Number(row.id));
    });
  }

  prune(now: number): number {
    if (!this.writable) return 0;
    try {
      const result = this.db.prepare('DELETE FROM events WHERE at < ?').run(now - this.retentionDays * DAY_MS);
      return Number(result.changes);
    } catch (err) {
      this.warnOnce('cannot delete old events', err);
      return 0;
    }
  }

  close(): void {
    closeQuietly(this.db);
  }

  private warnOnce(what: string, err: unknown): void {
    const message = errorMessage(err);
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.log.warn({ file: this.file, code: 'HISTORY' }, `history ${this.file}: ${what}: ${message}`);
  }
}
