import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectable, findDaemon } from '../../../src/ops/client.js';
import { LOCK_FILE } from '../../../src/ops/lock.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let dir: string;
let server: Server;
let base: string;
let seen: Seen[];
let answer: (req: Seen, res: ServerResponse) => void;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-client-'));
  seen = [];
  answer = (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterEach(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

const NOW = Date.now();
/** This test process is not the holder: the lock names pid 4242 of this host, alive unless told otherwise. */
const live = { pid: 1, now: NOW, alive: () => true };

async function lock(extra: Record<string, unknown> = {}): Promise<void> {
  const at = new Date(NOW).toISOString();
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 4242, host: hostname(), started: at, heartbeat: at, kind: 'daemon', ...extra }));
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_req: Seen, res: ServerResponse) =>
  void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

describe('findDaemon', () => {
  it('finds nothing in a free folder, behind a stale lock, or when a command holds the folder', async () => {
    expect(await findDaemon(dir, { lock: live })).toBeUndefined();
    await lock({ api: base });
    expect(await findDaemon(dir, { lock: { ...live, alive: () => false } })).toBeUndefined();
    await lock({ kind: 'command' });
    expect(await findDaemon(dir, { lock: live })).toBeUndefined();
  });

  it('refuses a live daemon that serves no API, saying how to act through it', async () => {
    await lock();
    await expect(findDaemon(dir, { lock: live })).rejects.toMatchObject({
      code: 'FOLDER_LOCKED',
      message: expect.stringMatching(new RegExp(`the daemon \\(pid 4242 on ${hostname()}.*without --listen.*--admin-token-file, or stop it`)),
    });
  });

  it('renews through the API with the token of the lock\'s token file, trimmed, as the cli', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 's3cret\n');
    await lock({ api: `${base}/`, tokenFile });
    const result = { id: 'www.example.com', runsAt: '2026-01-01T00:00:00.000Z', message: 'runs now' };
    answer = json(202, result);
    const api = (await findDaemon(dir, { lock: live }))!;
    expect(api.holder).toMatchObject({ pid: 4242, api: `${base}/` });
    expect(await api.renew('www.example.com', { force: true })).toEqual(result);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/certificates/www.example.com/renew', body: '{"force":true}' });
    expect(seen[0]!.headers).toMatchObject({ authorization: 'Bearer s3cret', 'x-whisper-client': 'cli', 'content-type': 'application/json' });
  });

  it('prefers the token file it is given, and says so when that file cannot be read', async () => {
    const mine = join(dir, 'mine');
    await writeFile(mine, ' other ');
    await lock({ api: base, tokenFile: join(dir, 'absent') });
    answer = json(200, { id: 'a.example.com', serial: '01', reason: 'keyCompromise', replacement: { id: 'a.example.com', runsAt: 'x', message: 'm' } });
    const api = (await findDaemon(dir, { tokenFile: mine, lock: live }))!;
    expect((await api.revoke('a.example.com', { reason: 'keyCompromise' })).serial).toBe('01');
    expect(seen[0]).toMatchObject({ url: '/api/certificates/a.example.com/revoke', body: '{"reason":"keyCompromise"}' });
    expect(seen[0]!.headers.authorization).toBe('Bearer other');
    await expect(findDaemon(dir, { tokenFile: join(dir, 'nope'), lock: live })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('--admin-token-file') });
  });

  it('imports and lists through the API', async () => {
    await lock({ api: base });
    const imported = [{ id: 'x.example.com', file: 'x.example.com.pem', names: ['x.example.com'], serial: 'AB', notAfter: '2026-05-01T00:00:00.000Z' }];
    answer = (req, res) => (req.url === '/api/import' ? json(200, { imported }) : json(200, { certificates: [{ id: 'x.example.com' }] }))(req, res);
    const api = (await findDaemon(dir, { lock: live }))!;
    expect(await api.importCerts([{ name: 'x.pem', pem: 'PEM' }])).toEqual(imported);
    expect(JSON.parse(seen[0]!.body)).toEqual({ pems: [{ name: 'x.pem', pem: 'PEM' }] });
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect((await api.certificates()).map((c) => c.id)).toEqual(['x.example.com']);
  });

  it('maps error answers back to the daemon\'s code and message', async () => {
    await lock({ api: base });
    const api = (await findDaemon(dir, { lock: live }))!;
    answer = json(404, { error: 'NOT_FOUND', message: 'no certificate "nope.example.com"' });
    await expect(api.renew('nope.example.com', { force: false })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no certificate "nope.example.com"' });
    answer = json(403, { error: 'FORBIDDEN', message: 'actions need --admin-token-file' });
    await expect(api.renew('a', { force: false })).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('the daemon runs without --admin-token-file') });
    answer = json(429, { error: 'RATE_LIMIT_DEFERRED', message: 'budget spent' }, { 'retry-after': '120' });
    const err = await api.renew('a', { force: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RATE_LIMIT_DEFERRED', retryable: true });
    expect((err as { retryAfter: Date }).retryAfter.getTime()).toBeGreaterThan(NOW);
    answer = json(400, { error: 'BAD_REQUEST', message: 'reason: expected one of …' });
    await expect(api.revoke('a', { reason: 'unspecified' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    answer = (_r, res) => void res.writeHead(500).end('boom');
    await expect(api.certificates()).rejects.toMatchObject({ code: 'INTERNAL', message: 'the daemon answered 500' });
  });

  it('will not let anyone act beside a live daemon whose API does not answer', async () => {
    await new Promise((r) => server.close(r));
    await lock({ api: base });
    const api = (await findDaemon(dir, { lock: live }))!;
    await expect(api.renew('a', { force: true })).rejects.toMatchObject({ code: 'FOLDER_LOCKED', message: expect.stringContaining(`admin API at ${base} does not answer`) });
    server = createServer();
  });
});

describe('connectable', () => {
  it('reaches a daemon listening on every address through loopback', () => {
    expect(connectable('http://0.0.0.0:9400')).toBe('http://127.0.0.1:9400');
    expect(connectable('http://[::]:9400/')).toBe('http://[::1]:9400');
    expect(connectable('http://10.0.0.5:9400')).toBe('http://10.0.0.5:9400');
    expect(() => connectable('nonsense')).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });
});
