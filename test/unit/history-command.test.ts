import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { historyCommand } from '../../src/history-command.js';
import { openHistory } from '../../src/history/db.js';
import { HISTORY_FILE, type HistoryEvent } from '../../src/history/types.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const NOW = T0 + 3_600_000;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-history-cmd-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await historyCommand(['history', ...args], { stdout: (t) => out.push(t), stderr: (t) => err.push(t), now: () => NOW });
  return { code, out: out.join(''), err: err.join('') };
}

function seed(events: readonly HistoryEvent[], instance = 'host-a:100'): void {
  const store = openHistory(dir, { instance, now: () => NOW });
  for (const e of events) store.record(e);
  store.close();
}

const EVENTS: HistoryEvent[] = [
  { at: new Date(T0), kind: 'order', cert: 'www.example.com', names: ['www.example.com'], reason: 'renewal due' },
  {
    at: new Date(T0 + 60_000),
    kind: 'failed',
    cert: 'www.example.com',
    code: 'ACME_ORDER',
    message: 'the CA refused\n(HTTP 400)',
    problem: { type: 'urn:ietf:params:acme:error:caa', detail: 'CAA forbids', status: 403 },
    durationMs: 2500,
  },
  { at: new Date(T0 + 120_000), kind: 'delivered', cert: 'api.example.com', target: 'haproxy', serial: '0A1B' },
  { at: new Date(T0 + 180_000), kind: 'deferred', names: ['x.example.com'], until: new Date(T0 + 7_200_000), bucket: 'newOrders' },
];

describe('whisper-ts history', () => {
  it('prints the rows newest first as a table', async () => {
    seed(EVENTS);
    const { code, out, err } = await run(dir);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toBe(
      [
        'TIME                  KIND       CERTIFICATE      DETAIL',
        '2026-03-01T12:03:00Z  deferred   x.example.com    until 2026-03-01T14:00:00Z; bucket newOrders',
        '2026-03-01T12:02:00Z  delivered  api.example.com  target haproxy; serial 0A1B',
        '2026-03-01T12:01:00Z  failed     www.example.com  ACME_ORDER: the CA refused (HTTP 400); problem: CAA forbids; 2.5s',
        '2026-03-01T12:00:00Z  order      www.example.com  renewal due',
        '',
      ].join('\n'),
    );
  });

  it('adds the instance column when more than one instance wrote the rows', async () => {
    seed(EVENTS.slice(0, 1), 'host-a:100');
    seed(EVENTS.slice(2, 3), 'host-b:200');
    const { out } = await run(dir);
    expect(out.split('\n')[0]).toBe('TIME                  KIND       CERTIFICATE      INSTANCE    DETAIL');
    expect(out.split('\n')[1]).toBe('2026-03-01T12:02:00Z  delivered  api.example.com  host-b:200  target haproxy; serial 0A1B');
  });

  it('--json: { rows } with ISO times and the stored fields', async () => {
    seed(EVENTS);
    const { code, out } = await run(dir, '--json', '--kind', 'failed');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({
      rows: [
        {
          id: 2,
          at: '2026-03-01T12:01:00.000Z',
          instance: 'host-a:100',
          kind: 'failed',
          cert: 'www.example.com',
          code: 'ACME_ORDER',
          message: 'the CA refused\n(HTTP 400)',
          problem: { type: 'urn:ietf:params:acme:error:caa', detail: 'CAA forbids', status: 403 },
          durationMs: 2500,
        },
      ],
    });
  });

  it('filters by --cert, --since, --kind (comma-separated, repeatable) and pages with --limit/--before', async () => {
    seed(EVENTS);
    const ids = async (...args: string[]) => (JSON.parse((await run(dir, '--json', ...args)).out) as { rows: { id: number }[] }).rows.map((r) => r.id);
    expect(await ids('--cert', 'www.example.com')).toEqual([2, 1]);
    expect(await ids('--since', '58m')).toEqual([4, 3]);
    expect(await ids('--since', '2026-03-01T12:01:00Z')).toEqual([4, 3, 2]);
    expect(await ids('--kind', 'order,delivered', '--kind', 'deferred')).toEqual([4, 3, 1]);
    expect(await ids('--limit', '2')).toEqual([4, 3]);
    expect(await ids('--limit', '2', '--before', '3')).toEqual([2, 1]);
    const { err } = await run(dir, '--limit', '2');
    expect(err).toContain('--before 3');
  });

  it('without a history file: "no history yet", exit 0, nothing created', async () => {
    expect(await run(dir)).toEqual({ code: 0, out: expect.stringContaining('no history yet'), err: '' });
    expect(JSON.parse((await run(dir, '--json')).out)).toEqual({ rows: [] });
    expect(existsSync(join(dir, HISTORY_FILE))).toBe(false);
  });

  it('never migrates: a version 0 database shows no events and stays at version 0', async () => {
    new DatabaseSync(join(dir, HISTORY_FILE)).close();
    expect((await run(dir)).out).toBe('no events\n');
    const db = new DatabaseSync(join(dir, HISTORY_FILE), { readOnly: true });
    expect(db.prepare('PRAGMA user_version').get()).toEqual({ user_version: 0 });
    db.close();
  });

  it('usage errors exit 2 naming the option', async () => {
    seed(EVENTS);
    for (const [args, text] of [
      [['--since', 'yesterday'], '--since "yesterday"'],
      [['--kind', 'issued,nope'], '--kind "nope"'],
      [['--limit', '0'], '--limit "0"'],
      [['--limit', '1001'], '--limit "1001"'],
      [['--before', 'x'], '--before "x"'],
      [['--bogus'], 'unknown option'],
    ] as const) {
      const r = await run(dir, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(text);
    }
    expect((await run()).code).toBe(2);
    expect((await run('--help')).code).toBe(0);
  });

  it('exit 1 for a missing folder or a file that is no database (left as it is)', async () => {
    const missing = await run(join(dir, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no such folder');
    writeFileSync(join(dir, HISTORY_FILE), 'garbage, '.repeat(100));
    const bad = await run(dir);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('not a database');
    expect(existsSync(join(dir, HISTORY_FILE))).toBe(true);
  });
});
