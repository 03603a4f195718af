import { describe, it, expect, afterEach } from 'vitest';
import { WhisperError } from '../../src/errors.js';
import { fakeBackend } from './admin-fake.js';
import { json, startAdmin, TOKEN } from './admin-server.js';
import type { LimitsView } from '../../src/ops/types.js';
import type { HistoryRow } from '../../src/history/types.js';

type Page = { rows: HistoryRow[]; next?: number };

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function attached(options: Parameters<typeof startAdmin>[0] = {}) {
  const fake = fakeBackend();
  const s = await startAdmin({ token: TOKEN, now: () => fake.now, ...options });
  s.hub.attach(fake.backend);
  close = () => s.server.close();
  return { ...s, fake };
}

describe('admin API reads', () => {
  it('answers 503 UNAVAILABLE before a backend is attached', async () => {
    const s = await startAdmin({ token: TOKEN });
    close = () => s.server.close();
    for (const path of ['/api/certificates', '/api/certificates/x', '/api/history', '/api/limits', '/api/queue', '/api/account']) {
      const r = await s.call(path);
      expect(r.status, path).toBe(503);
      expect((await json(r)).error).toBe('UNAVAILABLE');
    }
    expect((await s.post('/api/certificates/x/renew', {}, { token: TOKEN })).status).toBe(503);
  });

  it('lists the certificates, and one by its id', async () => {
    const s = await attached();
    const all = await s.call('/api/certificates');
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(all.headers.get('cache-control')).toBe('no-store');
    expect(all.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await all.json()) as { certificates: Array<{ id: string }> }).certificates.map((c) => c.id)).toEqual(['web.example.test', 'api.example.test']);
    const one = await s.call('/api/certificates/api.example.test');
    expect(await one.json()).toMatchObject({ id: 'api.example.test', lastError: { code: 'ACME_ORDER' } });
    const missing = await s.call('/api/certificates/nope.example.test');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'NOT_FOUND' });
  });

  it('serves limits, queue and account with dates as ISO strings', async () => {
    const s = await attached();
    const limits = await json<LimitsView>(await s.call('/api/limits'));
    expect(limits.buckets[1]).toMatchObject({ bucket: 'exactSet', remaining: 0, nextTokenAt: '2026-12-02T13:00:00.000Z' });
    expect(limits.nextFreeAt).toBe('2026-12-02T13:00:00.000Z');
    expect(await (await s.call('/api/queue')).json()).toEqual({
      jobs: [{ id: 'api.example.test', state: 'deferred', attempt: 2, reason: 'renewal due', names: ['api.example.test'], nextAt: '2026-12-02T12:10:00.000Z' }],
    });
    expect(await (await s.call('/api/account')).json()).toMatchObject({ url: 'https://ca.test/acct/1', status: 'valid' });
  });

  it('pages and filters the history, naming a bad parameter', async () => {
    const s = await attached();
    const page = await json<Page>(await s.call('/api/history?limit=2'));
    expect(page.rows.map((r) => r.id)).toEqual([3, 2]);
    expect(page.next).toBe(2);
    const rest = await (await s.call('/api/history?limit=2&before=2')).json();
    expect(rest).toEqual({ rows: [expect.objectContaining({ id: 1, kind: 'order' })] });
    const failed = await json<Page>(await s.call('/api/history?kind=failed,deferred&cert=api.example.test&since=7d'));
    expect(failed.rows).toEqual([expect.objectContaining({ id: 3, problem: expect.objectContaining({ type: 'urn:ietf:params:acme:error:dns' }) })]);
    const q = s.fake.calls.history.at(-1)!;
    expect(q).toEqual({ cert: 'api.example.test', kinds: ['failed', 'deferred'], since: new Date(s.fake.now - 7 * 86_400_000), limit: 100 });
    await s.call('/api/history?since=2026-11-01T00:00:00Z');
    expect(s.fake.calls.history.at(-1)!.since).toEqual(new Date('2026-11-01T00:00:00Z'));
    for (const [query, param] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['before=x', 'before'], ['kind=bogus', 'kind'], ['since=yesterday', 'since'], ['page=2', 'page']]) {
      const r = await s.call(`/api/history?${query}`);
      expect(r.status, query).toBe(400);
      const body = await json(r);
      expect(body.error).toBe('BAD_REQUEST');
      expect(body.message.startsWith(`${param}:`), body.message).toBe(true);
    }
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    const s = await attached();
    expect((await s.call('/api/nope')).status).toBe(404);
    expect((await s.call('/api/certificates/web.example.test/explode', { method: 'POST', token: TOKEN })).status).toBe(404);
    const r = await s.post('/api/limits', undefined, { token: TOKEN });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET');
    expect((await s.call('/api/certificates/web.example.test/renew', { token: TOKEN })).status).toBe(405);
  });
});

describe('admin API actions', () => {
  it('renews (forced by default), recording who asked', async () => {
    const s = await attached();
    const r = await s.post('/api/certificates/web.example.test/renew', {}, { token: TOKEN });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ id: 'web.example.test', runsAt: '2026-12-02T12:00:00.000Z', message: 'renewal of web.example.test queued now' });
    await s.post('/api/certificates/web.example.test/renew', { force: false }, { token: TOKEN, headers: { 'x-whisper-client': 'dashboard' } });
    await s.post('/api/certificates/web.example.test/renew', undefined, { token: TOKEN });
    expect(s.fake.calls.renew).toEqual([
      { id: 'web.example.test', force: true, by: 'api' },
      { id: 'web.example.test', force: false, by: 'dashboard' },
      { id: 'web.example.test', force: true, by: 'api' },
    ]);
  });

  it('revokes with a reason (unspecified by default) and refuses an unknown reason', async () => {
    const s = await attached();
    const r = await s.post('/api/certificates/web.example.test/revoke', { reason: 'keyCompromise' }, { token: TOKEN });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ id: 'web.example.test', serial: '0A1B2C3D4E5F', reason: 'keyCompromise' });
    await s.post('/api/certificates/web.example.test/revoke', {}, { token: TOKEN });
    for (const reason of ['bogus', 2, 'toString']) {
      const bad = await s.post('/api/certificates/web.example.test/revoke', { reason }, { token: TOKEN });
      expect(bad.status, String(reason)).toBe(400);
      expect((await json(bad)).message).toContain('keyCompromise');
    }
    expect(s.fake.calls.revoke.map((c) => c.reason)).toEqual(['keyCompromise', 'unspecified']);
  });

  it('imports PEMs (all in one request), recording the command as `cli`, and refuses a malformed body', async () => {
    const s = await attached();
    const pems = [{ name: 'a.example.test.pem', pem: 'x'.repeat(100_000) }, { name: 'b.example.test.pem', pem: 'y' }];
    const r = await s.post('/api/import', { pems }, { token: TOKEN, headers: { 'x-whisper-client': 'cli' } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { imported: Array<{ id: string }> }).imported.map((i) => i.id)).toEqual(['a.example.test', 'b.example.test']);
    expect(s.fake.calls.importCerts).toEqual([{ names: ['a.example.test.pem', 'b.example.test.pem'], by: 'cli' }]);
    for (const body of [{}, { pems: [] }, { pems: [{ name: 'a.pem' }] }, { pems: 'a' }]) {
      expect((await s.post('/api/import', body, { token: TOKEN })).status, JSON.stringify(body)).toBe(400);
    }
    expect((await s.post('/api/import', { pems })).status).toBe(401);
    expect((await s.call('/api/import')).status).toBe(405);
  });

  it('maps the backend errors to statuses', async () => {
    const s = await attached();
    const cases: Array<[unknown, number, string]> = [
      [new WhisperError('NOT_FOUND', 'no such certificate'), 404, 'NOT_FOUND'],
      [new WhisperError('CONFIG_INVALID', 'not wanted'), 400, 'CONFIG_INVALID'],
      [new WhisperError('ACME_ORDER', 'the CA said no'), 502, 'ACME_ORDER'],
      [new WhisperError('STORE_WRITE', 'disk full'), 500, 'STORE_WRITE'],
      [new Error('secret internals'), 500, 'INTERNAL'],
    ];
    for (const [err, status, code] of cases) {
      s.fake.fail(err);
      const r = await s.post('/api/certificates/web.example.test/renew', {}, { token: TOKEN });
      expect(r.status, code).toBe(status);
      const body = await json(r);
      expect(body.error).toBe(code);
      expect(body.message).not.toContain('secret internals');
    }
    s.fake.fail(new WhisperError('RATE_LIMIT_DEFERRED', 'exactSet is spent', { retryAfter: new Date(s.fake.now + 90_500) }));
    const limited = await s.post('/api/certificates/web.example.test/renew', {}, { token: TOKEN });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('91');
    expect(await limited.json()).toEqual({ error: 'RATE_LIMIT_DEFERRED', message: 'exactSet is spent' });
  });

  it('takes JSON bodies of at most 64 KiB only', async () => {
    const s = await attached();
    const path = '/api/certificates/web.example.test/renew';
    const text = await s.call(path, { method: 'POST', token: TOKEN, body: 'force=true', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(text.status).toBe(415);
    const broken = await s.call(path, { method: 'POST', token: TOKEN, body: '{"force":', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    const array = await s.post(path, [true], { token: TOKEN });
    expect(array.status).toBe(400);
    expect((await s.post(path, { force: 'yes' }, { token: TOKEN })).status).toBe(400);
    const big = await s.post(path, { pad: 'x'.repeat(64 * 1024) }, { token: TOKEN });
    expect(big.status).toBe(413);
    expect((await json(big)).error).toBe('PAYLOAD_TOO_LARGE');
    // Streamed without a length: refused once it passes the limit, all the same.
    const chunks = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(`{"pad":"${'y'.repeat(70 * 1024)}"}`)); c.close(); } });
    const streamed = await s.call(path, { method: 'POST', token: TOKEN, body: chunks, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(s.fake.calls.renew).toEqual([]);
  });
});
