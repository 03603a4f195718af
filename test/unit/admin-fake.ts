import { WhisperError } from '../../src/errors.js';
import type { HistoryQuery, HistoryRow } from '../../src/history/types.js';
import type { QueueEntry } from '../../src/queue/types.js';
import type { AccountView, ActionSource, CertificateView, LimitsView, OpsBackend, RenewResult, RevocationReason } from '../../src/ops/types.js';

const DAY = 86_400_000;

/** A backend with two certificates (one failing), one queued job, a spent bucket and a few history rows. */
export function fakeBackend(now = Date.parse('2026-12-02T12:00:00Z')) {
  const iso = (ms: number) => new Date(now + ms).toISOString();
  const certs: CertificateView[] = [
    {
      id: 'web.example.test', file: 'web.example.test.pem', names: ['web.example.test'], wanted: true, services: ['web'],
      issuer: 'CN=Pebble Intermediate CA', serial: '0A1B2C3D4E5F', notBefore: iso(-30 * DAY), notAfter: iso(60 * DAY),
      keyType: 'ecdsa-p256', nextRenewal: iso(25 * DAY), renewalReason: 'ARI window', ariWindow: { start: iso(25 * DAY), end: iso(27 * DAY) },
      targets: { haproxy: { delivered: '0A1B2C3D4E5F', attempts: 0, pending: false } },
    },
    {
      id: 'api.example.test', file: 'api.example.test.pem', names: ['api.example.test', 'www.api.example.test'], wanted: true,
      issuer: 'CN=Pebble Intermediate CA', serial: 'FFEE01', notBefore: iso(-85 * DAY), notAfter: iso(5 * DAY), keyType: 'rsa-2048',
      nextRenewal: iso(-DAY), renewalReason: 'lifetime rule', lastError: { at: iso(-3_600_000), code: 'ACME_ORDER', message: 'challenge failed' },
    },
  ];
  const rows: HistoryRow[] = [
    { id: 3, instance: 'h:1', at: new Date(now - 3_600_000), kind: 'failed', cert: 'api.example.test', code: 'ACME_ORDER', message: 'challenge failed',
      problem: { type: 'urn:ietf:params:acme:error:dns', detail: 'no TXT record found', status: 400 } },
    { id: 2, instance: 'h:1', at: new Date(now - 2 * 3_600_000), kind: 'issued', cert: 'web.example.test', serial: '0A1B2C3D4E5F' },
    { id: 1, instance: 'h:1', at: new Date(now - 3 * 3_600_000), kind: 'order', cert: 'web.example.test', reason: 'missing' },
  ];
  const jobs: QueueEntry[] = [{ id: 'api.example.test', state: 'deferred', attempt: 2, reason: 'renewal due', names: ['api.example.test'], nextAt: new Date(now + 600_000) }];
  const limits: LimitsView = {
    buckets: [
      { bucket: 'newOrders', key: 'acct', remaining: 250, capacity: 300 },
      { bucket: 'exactSet', key: 'api.example.test', remaining: 0, capacity: 5, nextTokenAt: new Date(now + 3_600_000), fullAt: new Date(now + 7 * DAY) },
    ],
    nextFreeAt: iso(3_600_000),
  };
  const account: AccountView = { directoryUrl: 'https://ca.test/dir', url: 'https://ca.test/acct/1', keyType: 'ecdsa-p256', status: 'valid', contact: ['mailto:ops@example.test'], urls: {} };
  const calls = { renew: [] as Array<{ id: string; force: boolean; by: ActionSource }>, revoke: [] as Array<{ id: string; reason: RevocationReason; by: ActionSource }>, history: [] as HistoryQuery[], importCerts: [] as Array<{ names: string[]; by: ActionSource }> };
  let failWith: unknown;
  const find = (id: string) => {
    if (failWith !== undefined) throw failWith;
    const c = certs.find((x) => x.id === id);
    if (!c) throw new WhisperError('NOT_FOUND', `no certificate ${id}`);
    return c;
  };
  const backend = {
    certificates: () => Promise.resolve(certs),
    queue: () => jobs,
    limits: () => limits,
    account: () => Promise.resolve(account),
    history(q) {
      calls.history.push(q);
      return rows.filter((r) => (q.cert === undefined || r.cert === q.cert) && (q.kinds === undefined || q.kinds.includes(r.kind)) && (q.before === undefined || r.id < q.before)).slice(0, q.limit ?? 100);
    },
    renew(id, opts): Promise<RenewResult> {
      find(id);
      calls.renew.push({ id, ...opts });
      return Promise.resolve({ id, runsAt: new Date(now).toISOString(), message: `renewal of ${id} queued now` });
    },
    revoke(id, opts) {
      const c = find(id);
      calls.revoke.push({ id, ...opts });
      return Promise.resolve({ id, serial: c.serial!, reason: opts.reason, replacement: { id, runsAt: new Date(now).toISOString(), message: 'replacement queued now' } });
    },
    importCerts: (pems, opts) => {
      calls.importCerts.push({ names: pems.map((p) => p.name), by: opts.by });
      return Promise.resolve(pems.map((p) => ({ id: p.name.replace(/\.pem$/, ''), file: p.name, names: [p.name.replace(/\.pem$/, '')], serial: '01', notAfter: '2027-01-01T00:00:00.000Z' })));
    },
  } satisfies OpsBackend;
  return { backend, certs, rows, calls, now, fail: (err: unknown) => void (failWith = err) };
}

/** Timers that run only when told: `fire()` runs what is due now. */
export function manualTimers() {
  let pending: Array<{ fn: () => void; ms: number; handle: object }> = [];
  return {
    timers: {
      setTimeout(fn: () => void, ms: number) {
        const handle = {};
        pending.push({ fn, ms, handle });
        return handle;
      },
      clearTimeout(handle: unknown) {
        pending = pending.filter((p) => p.handle !== handle);
      },
    },
    /** The delays scheduled and not run yet. */
    delays: () => pending.map((p) => p.ms),
    fire() {
      const due = pending;
      pending = [];
      for (const p of due) p.fn();
    },
  };
}
