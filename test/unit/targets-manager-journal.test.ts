import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { decodeState, encodeState } from '../../src/state/codec.js';
import { StateKeeper } from '../../src/state/keeper.js';
import { emptyState, type WhisperState } from '../../src/state/types.js';
import { LOCAL_JOURNAL_FILE, loadLocalJournal, openLocalJournal, stateJournal } from '../../src/targets/journal.js';
import { formatStatusTable, statusRows } from '../../src/status/status.js';
import type { StoredCert } from '../../src/store/types.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'whisper-journal-'));
  dirs.push(d);
  return d;
}

const AT = new Date('2026-01-02T03:04:05.000Z');

describe('the delivery journal in the state', () => {
  it('round-trips, and a state file of an older version (no targets) still loads', () => {
    const state: WhisperState = {
      ...emptyState(),
      targets: { 'acm://eu-west-1': { 'a.example.com': { delivered: 'AB12', at: AT, attempts: 0, memo: { arn: 'arn:aws:acm:x', n: 1, ok: true } } }, 'sftp://u@h:22/p': { gone: { delivered: 'CD', removing: '/certs/gone.pem', attempts: 2, lastError: { at: AT, code: 'TARGET_SFTP', message: 'refused' } } } },
    };
    const text = encodeState(state);
    expect(decodeState(text)).toEqual({ ...state, targets: { ...state.targets, 'acm://eu-west-1': { 'a.example.com': { delivered: 'AB12', at: AT, memo: { arn: 'arn:aws:acm:x', n: 1, ok: true } } } } });
    const old = JSON.stringify({ version: 1, budget: [], certs: { 'a.example.com': { written: 'AB12' } } });
    expect(decodeState(old)).toEqual({ budget: [], certs: { 'a.example.com': { written: 'AB12' } } });
    // Without targets the file is written as before.
    expect(encodeState(emptyState())).not.toContain('targets');
  });

  it('refuses a damaged record, naming the field', () => {
    const bad = JSON.stringify({ version: 1, budget: [], certs: {}, targets: { t: { a: { attempts: -1 } } } });
    expect(() => decodeState(bad)).toThrow(/targets\.t\.a\.attempts is not a count/);
  });

  it('is kept by the StateKeeper apart from the certificates: pruning them leaves a removal to deliver', async () => {
    const saved: WhisperState[] = [];
    const keeper = new StateKeeper('/nowhere', emptyState(), silentLogger(), (_d, s) => {
      saved.push(s);
      return Promise.resolve();
    });
    const journal = stateJournal(keeper);
    keeper.setCert('gone', () => ({ written: 'CD' }));
    journal.set('t', 'gone', { delivered: 'CD', removing: '/certs/gone.pem' });
    keeper.prune([]);
    await keeper.flush();
    expect(keeper.cert('gone')).toEqual({});
    expect(journal.get('t', 'gone')).toEqual({ delivered: 'CD', removing: '/certs/gone.pem' });
    expect(saved.at(-1)?.targets).toEqual({ t: { gone: { delivered: 'CD', removing: '/certs/gone.pem' } } });
    journal.set('t', 'gone', undefined);
    await keeper.flush();
    expect(saved.at(-1)?.targets).toBeUndefined();
  });
});

describe('the local journal of per-instance targets', () => {
  it('is a file of the folder, read back at the next start', async () => {
    const dir = await tempDir();
    const journal = await openLocalJournal(dir, silentLogger());
    journal.set('haproxy:/run/haproxy.sock', 'a', { delivered: 'AA', at: AT });
    await journal.flush();
    expect(JSON.parse(await readFile(join(dir, LOCAL_JOURNAL_FILE), 'utf8'))).toEqual({ version: 1, targets: { 'haproxy:/run/haproxy.sock': { a: { delivered: 'AA', at: AT.toISOString() } } } });
    const again = await openLocalJournal(dir, silentLogger());
    expect(again.get('haproxy:/run/haproxy.sock', 'a')).toEqual({ delivered: 'AA', at: AT });
  });

  it('starts empty when missing or unreadable (every certificate is delivered again)', async () => {
    const dir = await tempDir();
    expect(await loadLocalJournal(dir, silentLogger())).toEqual({});
    await writeFile(join(dir, LOCAL_JOURNAL_FILE), '{"version":1,"targets":{"t":{"a":{"at":"yesterday"}}}}');
    expect(await loadLocalJournal(dir, silentLogger())).toEqual({});
  });
});

describe('status', () => {
  const cert = (id: string, serial: string): StoredCert => ({ id, serial, names: [id], notBefore: new Date(0), notAfter: new Date('2027-01-01'), issuer: 'CN=x', cert: '', path: `/certs/${id}.pem` });

  it('shows per certificate and target the serial delivered, the last error and whether something is pending', () => {
    const state: WhisperState = {
      ...emptyState(),
      targets: {
        'acm://eu-west-1': { a: { delivered: 'A1', at: AT }, b: { delivered: 'B0', attempts: 3, lastError: { at: AT, code: 'TARGET_AWS', message: 'throttled' } } },
        'haproxy:/run/h.sock': { a: { delivered: 'A1', at: AT }, gone: { delivered: 'G1', removing: '/certs/gone.pem' } },
      },
    };
    const rows = statusRows([cert('a', 'A1'), cert('b', 'B1')], state, AT.getTime());
    expect(rows.map((r) => [r.file, r.targets])).toEqual([
      ['a.pem', { 'acm://eu-west-1': { delivered: 'A1', at: AT, attempts: 0, pending: false }, 'haproxy:/run/h.sock': { delivered: 'A1', at: AT, attempts: 0, pending: false } }],
      ['b.pem', { 'acm://eu-west-1': { delivered: 'B0', attempts: 3, lastError: { at: AT, code: 'TARGET_AWS', message: 'throttled' }, pending: true } }],
      ['gone', { 'haproxy:/run/h.sock': { delivered: 'G1', attempts: 0, pending: true, removing: true } }],
    ]);
  });

  it('adds a TARGETS column to the table only once a target recorded something', () => {
    const certs = [cert('a', 'A1')];
    expect(formatStatusTable(statusRows(certs, emptyState(), AT.getTime()))).not.toContain('TARGETS');
    const state: WhisperState = { ...emptyState(), targets: { t1: { a: { delivered: 'A1' } }, t2: { a: { delivered: 'A0', lastError: { at: AT, code: 'TARGET_SFTP', message: 'x' } } } } };
    const table = formatStatusTable(statusRows(certs, state, AT.getTime()));
    expect(table.split('\n')[0]).toMatch(/NEXT RENEWAL\s+TARGETS\s+LAST ERROR/);
    expect(table).toContain('1/2 (t2 pending: TARGET_SFTP)');
  });
});
