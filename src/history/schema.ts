/**
 * The schema of the history database, versioned with `PRAGMA user_version`: migration `n` (1-based) takes a file
 * from version `n - 1` to `n`. A new version is one more entry at the end of {@link MIGRATIONS}; never edit one that
 * has shipped. Every pending migration runs in one transaction when the daemon opens the file.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the events table. `at` and `until` are epoch milliseconds; `names` and `problem` JSON text.
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     instance TEXT NOT NULL,
     kind TEXT NOT NULL,
     cert TEXT,
     names TEXT,
     reason TEXT,
     code TEXT,
     message TEXT,
     problem TEXT,
     target TEXT,
     serial TEXT,
     duration_ms INTEGER,
     until INTEGER,
     bucket TEXT,
     "by" TEXT
   );
   CREATE INDEX events_at ON events (at);
   CREATE INDEX events_cert_at ON events (cert, at);`,
];

/** The schema version this build writes (and the newest it knows). */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** What a database connection must offer to be migrated (node:sqlite's `DatabaseSync` does). */
export interface MigratableDb {
  exec(sql: string): void;
  prepare(sql: string): { get(): unknown };
}

/** The `PRAGMA user_version` of a database: 0 for a new (empty) file. */
export function schemaVersion(db: MigratableDb): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version?: unknown } | undefined;
  return typeof row?.user_version === 'number' ? row.user_version : 0;
}

/**
 * Brings the database to the last version of `migrations` ({@link SCHEMA_VERSION}): the migrations after its version, and the new version, in one
 * `BEGIN IMMEDIATE` transaction (so that two processes opening the same file never migrate it twice). A failure rolls
 * everything back and is thrown. A file newer than this build is left alone.
 * @returns the version before and after.
 */
export function migrate(db: MigratableDb, migrations: readonly string[] = MIGRATIONS): { from: number; to: number } {
  db.exec('BEGIN IMMEDIATE');
  try {
    const from = schemaVersion(db);
    if (from >= migrations.length) {
      db.exec('COMMIT');
      return { from, to: from };
    }
    for (const sql of migrations.slice(from)) db.exec(sql);
    db.exec(`PRAGMA user_version = ${migrations.length}`);
    db.exec('COMMIT');
    return { from, to: migrations.length };
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // No transaction left to roll back (SQLite ended it on the error).
    }
    throw err;
  }
}
