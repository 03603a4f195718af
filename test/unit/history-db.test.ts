import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pino } from 'pino';
import { isWhisperError } from '../../src/errors.js';
import { openHistory } from '../../src/history/db.js';
import { migrate, MIGRATIONS, SCHEMA_VERSION, schemaVersion } from '../../src/history/schema.js';
import { HISTORY_FILE, type HistoryEvent, type HistoryStore } from '../../src/history/types.js';
import type { Logger } from '../../src/log.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T12:00:00Z');

/** A logger that keeps its lines (parsed JSON). */
function capture(): { log: Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}
const warnings = (lines: { level: number; msg: string }[]) => lines.filter((l) => l.level === 40).map((l) => l.msg);

let dir: string;
let file: string;
const open: HistoryStore[] = [];
function history(options: Parameters<typeof openHistory>[1] = {}): HistoryStore {
  const store = openHistory(dir, { instance: 'test:1', now: () => T0, ...options });
  open.push(store);
  return store;
}
const at = (ms: number) => new Date(ms);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-history-'));
  file = join(dir, HISTORY_FILE);
});
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('record and query', () => {
  it('stores every field and returns the row as a query reads it, absent fields left out', () => {
    const h = history();
    const event: HistoryEvent = {
      at: at(T0),
      kind: 'failed',
      cert: 'www.example.com',
      names: ['www.example.com', 'example.com'],
      reason: 'renewal due',
      code: 'ACME_ORDER',
      message: 'the CA refused\nbadly',
      problem: { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'no', status: 400, subproblems: [{ type: 'dns', detail: 'x', identifier: 'example.com' }] },
      target: 'haproxy',
      serial: '0ABC',
      durationMs: 1234,
      until: at(T0 + DAY),
      bucket: 'newOrders',
      by: 'api',
    };
    const row = h.record(event);
    expect(row).toEqual({ ...event, id: 1, instance: 'test:1' });
    expect(h.query()).toEqual([row]);
    const small = h.record({ at: at(T0 + 1), kind: 'order' });
    expect(small).toEqual({ id: 2, at: at(T0 + 1), kind: 'order', instance: 'test:1' });
    expect(Object.keys(h.query()[0]!).sort()).toEqual(['at', 'id', 'instance', 'kind']);
    expect(h.query()[0]!.at).toBeInstanceOf(Date);
  });

  it('filters by certificate, time and kinds; pages by id, newest first', () => {
    const h = history();
    for (let i = 0; i < 10; i += 1) h.record({ at: at(T0 + i * 1000), kind: i % 2 ? 'issued' : 'order', cert: i < 5 ? 'a' : 'b' });
    h.record({ at: at(T0 + 99_000), kind: 'failed', cert: 'a' });
    expect(h.query().map((r) => r.id)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(h.query({ cert: 'a' }).map((r) => r.id)).toEqual([11, 5, 4, 3, 2, 1]);
    expect(h.query({ since: at(T0 + 7000) }).map((r) => r.id)).toEqual([11, 10, 9, 8]);
    expect(h.query({ kinds: ['issued', 'failed'] }).map((r) => r.id)).toEqual([11, 10, 8, 6, 4, 2]);
    expect(h.query({ kinds: [] })).toHaveLength(11);
    expect(h.query({ cert: 'a', kinds: ['order'], since: at(T0 + 1000) }).map((r) => r.id)).toEqual([5, 3]);
    const page1 = h.query({ limit: 4 });
    expect(page1.map((r) => r.id)).toEqual([11, 10, 9, 8]);
    expect(h.query({ limit: 4, before: page1.at(-1)!.id }).map((r) => r.id)).toEqual([7, 6, 5, 4]);
    expect(h.query({ limit: 4, before: 2 }).map((r) => r.id)).toEqual([1]);
    expect(h.query({ cert: 'nobody' })).toEqual([]);
  });

  it('returns 100 rows unless told, at most 1000', () => {
    const h = history();
    for (let i = 0; i < 1005; i += 1) h.record({ at: at(T0), kind: 'notified' });
    expect(h.query()).toHaveLength(100);
    expect(h.query({ limit: 5000 })).toHaveLength(1000);
    expect(h.query({ limit: 0 })).toHaveLength(1);
  });

  it('names its instance host:pid by default', () => {
    const h = openHistory(dir);
    open.push(h);
    expect(h.record({ at: at(T0), kind: 'account' })?.instance).toBe(`${hostname()}:${process.pid}`);
  });

  it('a reader sees what the writer writes while both are open (WAL)', () => {
    const w = history();
    w.record({ at: at(T0), kind: 'order', cert: 'a' });
    const r = history({ readOnly: true });
    expect(r.query()).toHaveLength(1);
    w.record({ at: at(T0 + 1), kind: 'issued', cert: 'a' });
    expect(r.query().map((x) => x.kind)).toEqual(['issued', 'order']);
    expect(r.record({ at: at(T0), kind: 'order' })).toBeUndefined();
    expect(r.prune(T0 + 1000 * DAY)).toBe(0);
    const db = new DatabaseSync(file, { readOnly: true });
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    db.close();
  });
});

describe('record never throws', () => {
  it('after close: undefined, one warning per distinct error', () => {
    const { log, lines } = capture();
    const h = history({ log });
    h.close();
    h.close();
    expect(h.record({ at: at(T0), kind: 'order' })).toBeUndefined();
    expect(h.record({ at: at(T0), kind: 'issued' })).toBeUndefined();
    expect(warnings(lines)).toHaveLength(1);
    expect(warnings(lines)[0]).toContain('cannot record');
    expect(h.prune(T0)).toBe(0);
  });

  it('for an event without a valid time', () => {
    const { log, lines } = capture();
    const h = history({ log });
    expect(h.record({ at: new Date(NaN), kind: 'order' })).toBeUndefined();
    expect(warnings(lines)).toHaveLength(1);
    expect(h.record({ at: at(T0), kind: 'order' })?.id).toBe(1);
  });
});

describe('retention', () => {
  it('prune deletes rows older than the retention; opening prunes too', () => {
    const h = history({ retentionDays: 10 });
    h.record({ at: at(T0 - 11 * DAY), kind: 'order' });
    h.record({ at: at(T0 - 9 * DAY), kind: 'order' });
    h.record({ at: at(T0), kind: 'issued' });
    expect(h.prune(T0)).toBe(1);
    expect(h.query().map((r) => r.id)).toEqual([3, 2]);
    expect(h.prune(T0)).toBe(0);
    h.close();
    const later = history({ retentionDays: 10, now: () => T0 + 5 * DAY });
    expect(later.query().map((r) => r.id)).toEqual([3]);
    // Ids are never reused, also after everything was pruned.
    later.prune(T0 + 100 * DAY);
    expect(later.record({ at: at(T0), kind: 'order' })?.id).toBe(4);
  });

  it('keeps 400 days by default', () => {
    const h = history();
    h.record({ at: at(T0 - 401 * DAY), kind: 'order' });
    h.record({ at: at(T0 - 399 * DAY), kind: 'order' });
    expect(h.prune(T0)).toBe(1);
  });
});

describe('the file', () => {
  it('is created with mode 0600, and so are the files SQLite keeps beside it', () => {
    const h = history();
    h.record({ at: at(T0), kind: 'order' });
    const files = readdirSync(dir).filter((f) => f.startsWith(HISTORY_FILE));
    expect(files.sort()).toEqual([HISTORY_FILE, `${HISTORY_FILE}-shm`, `${HISTORY_FILE}-wal`]);
    for (const f of files) expect((statSync(join(dir, f)).mode & 0o777).toString(8)).toBe('600');
  });

  it('read-only: never creates it; a missing file throws HISTORY', () => {
    let err: unknown;
    try {
      history({ readOnly: true });
    } catch (e) {
      err = e;
    }
    expect(isWhisperError(err, 'HISTORY')).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  it('a file that is no database is set aside, a warning names it, a new history starts', () => {
    writeFileSync(file, 'this is not a database, '.repeat(100));
    writeFileSync(`${file}-wal`, 'stale');
    const { log, lines } = capture();
    const h = history({ log });
    const aside = `${file}.corrupt-20260301T120000Z`;
    expect(readFileSync(aside, 'utf8')).toContain('this is not a database');
    // The stale -wal is never replayed into the new database (SQLite drops an invalid one; a valid one moves aside).
    expect(existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`, 'utf8') : '').not.toBe('stale');
    expect(warnings(lines)).toEqual([expect.stringContaining('.whisper-history.sqlite.corrupt-20260301T120000Z')]);
    expect(h.record({ at: at(T0), kind: 'order' })?.id).toBe(1);
    expect(h.query()).toHaveLength(1);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    h.close();
    // A second corrupt file in the same second keeps the first one.
    writeFileSync(file, 'garbage again, '.repeat(100));
    history({ log });
    expect(readFileSync(`${aside}-1`, 'utf8')).toContain('garbage again');
    expect(readFileSync(aside, 'utf8')).toContain('this is not a database');
  });

  it('also a short one', () => {
    writeFileSync(file, 'junk');
    const { log, lines } = capture();
    expect(history({ log }).record({ at: at(T0), kind: 'order' })?.id).toBe(1);
    expect(readFileSync(`${file}.corrupt-20260301T120000Z`, 'utf8')).toBe('junk');
    expect(warnings(lines)).toHaveLength(1);
  });

  it('read-only, a file that is no database throws HISTORY and stays where it is', () => {
    writeFileSync(file, 'garbage, '.repeat(100));
    expect(() => history({ readOnly: true })).toThrow(/not a database/);
    expect(readdirSync(dir)).toEqual([HISTORY_FILE]);
  });
});

describe('schema migrations', () => {
  it('migrates an empty (version 0) file', () => {
    writeFileSync(file, '', { mode: 0o600 });
    const h = history();
    h.record({ at: at(T0), kind: 'order' });
    h.close();
    const db = new DatabaseSync(file);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('keeps the rows of a version 1 file', () => {
    const db = new DatabaseSync(file);
    db.exec(MIGRATIONS[0]!);
    db.exec('PRAGMA user_version = 1');
    db.prepare('INSERT INTO events (at, instance, kind, cert, names) VALUES (?, ?, ?, ?, ?)').run(T0, 'old:1', 'issued', 'a', '["a.example"]');
    db.close();
    const h = history();
    expect(h.query()).toEqual([{ id: 1, at: at(T0), instance: 'old:1', kind: 'issued', cert: 'a', names: ['a.example'] }]);
    expect(h.record({ at: at(T0 + 1), kind: 'order' })?.id).toBe(2);
  });

  it('a next migration is one more entry; it runs in the transaction that sets the version, rows kept', () => {
    const h = history();
    h.record({ at: at(T0), kind: 'order', cert: 'a' });
    h.close();
    const db = new DatabaseSync(file);
    const next = [...MIGRATIONS, 'ALTER TABLE events ADD COLUMN note TEXT'];
    expect(migrate(db, next)).toEqual({ from: 1, to: 2 });
    expect(db.prepare('SELECT cert, note FROM events').all()).toEqual([{ cert: 'a', note: null }]);
    expect(migrate(db, next)).toEqual({ from: 2, to: 2 });
    // A failing migration leaves the file as it was.
    expect(() => migrate(db, [...next, 'ALTER TABLE events ADD COLUMN x TEXT', 'this is no SQL'])).toThrow();
    expect(schemaVersion(db)).toBe(2);
    expect(db.prepare(`SELECT name FROM pragma_table_info('events') WHERE name = 'x'`).all()).toEqual([]);
    db.close();
  });

  it('a file of a newer schema is read, never written: records are dropped, a warning says so', () => {
    const h = history();
    h.record({ at: at(T0), kind: 'order', cert: 'a' });
    h.close();
    const db = new DatabaseSync(file);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    const { log, lines } = capture();
    const newer = history({ log, retentionDays: 1, now: () => T0 + 10 * DAY });
    expect(warnings(lines)).toEqual([expect.stringContaining('newer than this build knows')]);
    expect(newer.record({ at: at(T0), kind: 'issued' })).toBeUndefined();
    expect(newer.prune(T0 + 10 * DAY)).toBe(0);
    expect(newer.query().map((r) => r.kind)).toEqual(['order']);
    newer.close();
    const check = new DatabaseSync(file);
    expect(schemaVersion(check)).toBe(SCHEMA_VERSION + 5);
    check.close();
  });
});
