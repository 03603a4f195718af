import { describe, it, expect } from 'vitest';
import { RateBudget } from '../../../src/limits/budget.js';
import { parseRateLimits } from '../../../src/limits/config.js';
import { formatLimitsJson, formatLimitsTable, limitsRows } from '../../../src/status/limits.js';
import { formatStatusJson, formatStatusTable, statusRows } from '../../../src/status/status.js';
import { formatTable, formatTime } from '../../../src/status/table.js';
import type { WhisperState } from '../../../src/state/types.js';
import type { StoredCert } from '../../../src/store/types.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const NOW = Date.parse('2026-03-01T00:00:00Z');

function stored(id: string, names: string[], notBefore: string, days: number): StoredCert {
  const nb = new Date(notBefore);
  return {
    id,
    path: `/certs/${id}.pem`,
    names,
    notBefore: nb,
    notAfter: new Date(nb.getTime() + days * DAY),
    serial: '01',
    issuer: 'CN=Test CA',
    cert: '',
  };
}

const certs = [
  stored('www.example.com', ['www.example.com'], '2026-02-01T00:00:00Z', 90),
  stored('multi-hosts.example.com', ['a.example.com', 'b.example.com'], '2026-01-01T00:00:00Z', 60),
];

const state: WhisperState = {
  budget: [],
  certs: {
    'www.example.com': { nextRenewal: new Date('2026-04-05T10:30:00Z'), ariChosen: true },
    'multi-hosts.example.com': {
      lastError: { at: new Date('2026-02-28T12:00:00Z'), code: 'DNS_PROPAGATION_TIMEOUT', message: 'no TXT record at ns1.example.com' },
    },
    'api.example.org': {
      lastError: { at: new Date('2026-02-28T13:00:00Z'), code: 'ACME_RATE_LIMITED', message: 'x'.repeat(120) },
      deferredUntil: new Date('2026-03-02T00:00:00Z'),
    },
    'quiet.example.org': { nextRenewal: new Date('2026-03-05T00:00:00Z') },
  },
};

describe('statusRows', () => {
  it('joins the certificates with the state, falls back to the lifetime rule, and lists failing first issuances', () => {
    const rows = statusRows(certs, state, NOW);
    expect(rows.map((r) => r.file)).toEqual(['api.example.org', 'multi-hosts.example.com.pem', 'www.example.com.pem']);
    expect(rows[2]).toEqual({
      file: 'www.example.com.pem',
      names: ['www.example.com'],
      issuer: 'CN=Test CA',
      notAfter: new Date('2026-05-02T00:00:00Z'),
      daysLeft: 62,
      nextRenewal: new Date('2026-04-05T10:30:00Z'),
      ariChosen: true,
    });
    // 60-day certificate from Jan 1: a third left on Feb 10; not chosen by ARI.
    expect(rows[1]).toMatchObject({ daysLeft: 1, nextRenewal: new Date('2026-02-10T00:00:00Z'), ariChosen: false });
    expect(rows[1]?.lastError?.code).toBe('DNS_PROPAGATION_TIMEOUT');
    expect(rows[0]).toMatchObject({ names: [], issuer: '', ariChosen: false, deferredUntil: new Date('2026-03-02T00:00:00Z') });
    expect(rows[0]?.notAfter).toBeUndefined();
  });

  it('uses --renew-before for the fallback and counts expired certificates in negative days', () => {
    const expired = stored('old.example.com', ['old.example.com'], '2025-11-01T00:00:00Z', 90);
    const [row] = statusRows([expired], { budget: [], certs: {} }, NOW, { renewBefore: { days: 30 } });
    // Expired on Jan 30 (90 days from Nov 1); 30 days before that is Dec 31.
    expect(row).toMatchObject({ daysLeft: -30, nextRenewal: new Date('2025-12-31T00:00:00Z') });
  });
});

describe('formatStatusTable', () => {
  it('aligns the columns and marks ARI, deferrals and missing files', () => {
    const table = formatStatusTable(statusRows(certs, state, NOW));
    const lines = table.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^FILE +NAMES +ISSUER +NOT AFTER +DAYS LEFT +NEXT RENEWAL +LAST ERROR$/);
    const col = (header: string) => lines[0]?.indexOf(header) ?? -1;
    for (const line of lines.slice(1)) {
      expect(line[col('NAMES') - 1]).toBe(' ');
      expect(line.slice(col('NAMES')).startsWith(' ')).toBe(false);
    }
    expect(lines[3]).toContain('2026-04-05 10:30Z (ARI)');
    expect(lines[3]?.trimEnd().endsWith('-')).toBe(true);
    expect(lines[1]).toContain('(not issued)');
    expect(lines[1]).toContain('2026-03-02 00:00Z (deferred)');
    expect(lines[1]).toContain(`ACME_RATE_LIMITED: ${'x'.repeat(79)}…`);
    expect(lines[2]).toContain('a.example.com,b.example.com');
    expect(lines[2]).toContain('2026-02-28 12:00Z DNS_PROPAGATION_TIMEOUT: no TXT record at ns1.example.com');
  });

  it('shows a certificate of another CA than the daemon\'s as due now, and says why', () => {
    const state: WhisperState = { budget: [], certs: { 'www.example.com': { ca: 'https://acme-staging-v02.api.letsencrypt.org/directory', nextRenewal: new Date(NOW + 50 * DAY) } } };
    const prod = 'https://acme-v02.api.letsencrypt.org/directory';
    const [row] = statusRows([certs[0]!], state, NOW, { directoryUrl: prod });
    expect(row).toMatchObject({ nextRenewal: new Date(NOW), otherCa: 'https://acme-staging-v02.api.letsencrypt.org/directory', ariChosen: false });
    expect(formatStatusTable([row!])).toContain('now (issued by another CA: acme-staging-v02.api.letsencrypt.org)');
    // Run against that same CA, nothing is due.
    const [same] = statusRows([certs[0]!], state, NOW, { directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory' });
    expect(same).toMatchObject({ nextRenewal: new Date(NOW + 50 * DAY) });
    expect(same!.otherCa).toBeUndefined();
  });

  it('says so when there is nothing', () => {
    expect(formatStatusTable([])).toBe('no certificates\n');
  });

  it('prints JSON with ISO dates', () => {
    const rows = statusRows(certs, state, NOW);
    const parsed = JSON.parse(formatStatusJson(rows)) as { file: string; nextRenewal?: string }[];
    expect(parsed.find((r) => r.file === 'www.example.com.pem')?.nextRenewal).toBe('2026-04-05T10:30:00.000Z');
  });
});

describe('limits table', () => {
  it('lists the tightest buckets first with their refill times', () => {
    const budget = new RateBudget({ limits: parseRateLimits('exactSet=2/2h'), account: 'acct' });
    budget.recordOrder({ names: ['a.example.com'] }, NOW);
    budget.recordOrder({ names: ['a.example.com'] }, NOW);
    budget.recordOrder({ names: ['b.example.com'] }, NOW);
    const rows = limitsRows(budget.snapshot(NOW));
    expect(rows.map((r) => `${r.bucket}/${r.key}`)).toEqual([
      'exactSet/a.example.com',
      'exactSet/b.example.com',
      'registeredDomain/example.com',
      'newOrders/acct',
    ]);
    const table = formatLimitsTable(rows);
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BUCKET +KEY +LEFT +NEXT TOKEN +FULL AT$/);
    expect(lines[1]).toMatch(/^exactSet +a\.example\.com +0\/2 +2026-03-01 01:00Z +2026-03-01 02:00Z$/);
    // One token per 201.6 min: the next at 03:21:36, all three back at 10:04:48.
    expect(lines[3]).toMatch(/^registeredDomain +example\.com +47\/50 +2026-03-01 03:21Z +2026-03-01 10:04Z$/);
    expect(JSON.parse(formatLimitsJson(rows))[0]).toMatchObject({ bucket: 'exactSet', nextTokenAt: '2026-03-01T01:00:00.000Z' });
  });

  it('says so when no bucket was touched', () => {
    expect(formatLimitsTable([])).toContain('every bucket is full');
  });
});

describe('table helpers', () => {
  it('pads every column but the last and trims trailing spaces', () => {
    expect(formatTable(['A', 'BB', 'C'], [['xxx', '', 'z'], ['y', 'long', '']])).toBe('A    BB    C\nxxx        z\ny    long\n');
    expect(formatTime(undefined)).toBe('-');
    expect(formatTime(new Date(NOW + HOUR + 59_999))).toBe('2026-03-01 01:00Z');
  });
});
