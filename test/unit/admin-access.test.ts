import { describe, it, expect, afterEach } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { fakeBackend } from './admin-fake.js';
import { json, startAdmin, TOKEN } from './admin-server.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** A logger whose JSON lines the test reads. */
function capturedLog() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  return { log, lines };
}

async function start(options: Parameters<typeof startAdmin>[0]) {
  const s = await startAdmin(options);
  const fake = fakeBackend();
  s.hub.attach(fake.backend);
  close = () => s.server.close();
  return { ...s, fake };
}

const renew = '/api/certificates/web.example.test/renew';

describe('admin access with --admin-token-file', () => {
  it('serves loopback reads without the token, refuses a wrong one', async () => {
    const s = await start({ token: TOKEN });
    expect((await s.call('/api/certificates')).status).toBe(200);
    expect((await s.call('/api/certificates', { token: TOKEN })).status).toBe(200);
    const wrong = await s.call('/api/certificates', { token: 'not-the-token-at-all' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('asks a loopback client that names another host for the token (DNS rebinding)', async () => {
    const s = await start({ token: TOKEN });
    const http = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      http.get(`${s.url}/api/certificates`, { headers: { host: 'rebound.example:80' } }, (res) => (res.resume(), resolve(res.statusCode))).on('error', reject);
    });
    expect(status).toBe(401);
  });

  it('needs the token for every action; refusals are logged without the header', async () => {
    const { log, lines } = capturedLog();
    const s = await start({ token: TOKEN, log });
    const none = await s.post(renew, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toEqual({ error: 'UNAUTHORIZED', message: 'actions need the admin token: Authorization: Bearer <token>' });
    expect((await s.post(renew, {}, { token: `${TOKEN}x` })).status).toBe(401);
    expect((await s.post(renew, {}, { token: TOKEN })).status).toBe(202);
    expect(s.fake.calls.renew).toHaveLength(1);
    const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'admin action refused');
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatchObject({ level: 40, path: renew, client: '127.0.0.1', status: 401 });
    expect(lines.join('')).not.toContain(TOKEN);
  });

  it('asks remote clients for the token on reads, the event stream and actions, and serves them with it', async () => {
    const s = await start({ token: TOKEN, remote: true });
    for (const path of ['/api/certificates', '/api/history', '/api/events']) expect((await s.call(path)).status, path).toBe(401);
    expect((await s.call('/api/queue', { token: TOKEN })).status).toBe(200);
    expect((await s.post(renew, {}, { token: TOKEN })).status).toBe(202);
    // The page itself holds no data: the browser loads it, then sends the token the user enters.
    expect((await s.call('/')).status).toBe(200);
  });
});

describe('admin access without --admin-token-file', () => {
  it('serves loopback reads and the page, refuses every action', async () => {
    const s = await start({});
    expect((await s.call('/api/certificates')).status).toBe(200);
    expect((await s.call('/')).status).toBe(200);
    const r = await s.post(renew, {}, { token: 'anything-at-all-here' });
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: 'FORBIDDEN', message: 'actions need --admin-token-file' });
    expect(s.fake.calls.renew).toEqual([]);
  });

  it('refuses remote clients, pointing at --admin-token-file', async () => {
    const s = await start({ remote: true });
    for (const path of ['/api/certificates', '/', '/app.js']) {
      const r = await s.call(path);
      expect(r.status, path).toBe(403);
      expect((await json(r)).message).toContain('--admin-token-file');
    }
  });
});
