import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'node:http';
import { createLogger } from '../../src/log.js';
import { isWhisperError } from '../../src/errors.js';
import { startHttp01Responder } from '../../src/http01/responder.js';
import { createMemoryHttp01Store } from '../../src/http01/memory-store.js';
import type { Http01Lookup } from '../../src/http01/solver.js';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTH = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

function capture() {
  const lines: string[] = [];
  const log = createLogger({ debug: true, destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  return { log, lines };
}

async function start(lookup?: Http01Lookup) {
  const store = createMemoryHttp01Store();
  const { log, lines } = capture();
  const responder = await startHttp01Responder({ listen: { host: '127.0.0.1', port: 0 }, lookup: lookup ?? store.lookup, log });
  const get = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${responder.port}${path}`, init);
  return { store, responder, get, lines };
}

/** A raw request, for paths fetch would normalise (`..`, `%2F`). */
function raw(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP-01 responder', () => {
  it('answers GET of a presented token with its key authorization as text/plain, until it is removed', async () => {
    const { store, responder, get, lines } = await start();
    try {
      await store.present(TOKEN, KEY_AUTH);
      const res = await get(`/.well-known/acme-challenge/${TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain');
      expect(await res.text()).toBe(KEY_AUTH);
      // A query string is ignored (some validators add one).
      expect(await (await get(`/.well-known/acme-challenge/${TOKEN}?x=1`)).text()).toBe(KEY_AUTH);
      await store.cleanUp(TOKEN);
      expect((await get(`/.well-known/acme-challenge/${TOKEN}`)).status).toBe(404);
      // The key authorization never reaches a log line.
      expect(lines.join('')).not.toContain(KEY_AUTH.split('.')[1]);
    } finally {
      await responder.close();
    }
  });

  it('answers HEAD with the headers and no body', async () => {
    const { store, responder, get } = await start();
    try {
      await store.present(TOKEN, KEY_AUTH);
      const res = await get(`/.well-known/acme-challenge/${TOKEN}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(KEY_AUTH.length));
      expect(await res.text()).toBe('');
      expect((await get('/.well-known/acme-challenge/unknown', { method: 'HEAD' })).status).toBe(404);
    } finally {
      await responder.close();
    }
  });

  it('is 404 for every other path and method, and for unknown tokens', async () => {
    const { store, responder, get } = await start();
    try {
      await store.present(TOKEN, KEY_AUTH);
      for (const path of ['/', '/metrics', '/healthz', '/.well-known/acme-challenge/', '/.well-known/acme-challenge', `/.well-known/acme-challenge/${TOKEN}/x`, `/x/.well-known/acme-challenge/${TOKEN}`, '/.well-known/acme-challenge/nope']) {
        expect((await get(path)).status, path).toBe(404);
      }
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        expect((await get(`/.well-known/acme-challenge/${TOKEN}`, { method })).status, method).toBe(404);
      }
    } finally {
      await responder.close();
    }
  });

  it('checks the token syntax before any lookup', async () => {
    const asked: string[] = [];
    const { responder } = await start(async (token) => (asked.push(token), undefined));
    try {
      for (const bad of ['..%2F..%2Fetc%2Fpasswd', '..', 'a.b', 'a%20b', 'tok=', 'a'.repeat(257), '%00']) {
        expect(await raw(responder.port, `/.well-known/acme-challenge/${bad}`), bad).toBe(404);
      }
      expect(await raw(responder.port, '/.well-known/acme-challenge/../../etc/passwd')).toBe(404);
      expect(asked).toEqual([]);
      expect(await raw(responder.port, `/.well-known/acme-challenge/${TOKEN}`)).toBe(404);
      expect(asked).toEqual([TOKEN]);
    } finally {
      await responder.close();
    }
  });

  it('is 503 when the lookup fails (Consul down), without the value in the log', async () => {
    const { responder, get, lines } = await start(() => Promise.reject(new Error('connect ECONNREFUSED')));
    try {
      expect((await get(`/.well-known/acme-challenge/${TOKEN}`)).status).toBe(503);
      expect(lines.join('')).toContain('HTTP-01 token lookup failed');
    } finally {
      await responder.close();
    }
  });

  it('fails with CONFIG_INVALID naming --http01-listen when the address is taken; close is safe to repeat', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as AddressInfo;
    try {
      const err = await startHttp01Responder({ listen: { host: '127.0.0.1', port }, lookup: async () => undefined, log: capture().log }).catch((e: unknown) => e);
      expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('--http01-listen');
    } finally {
      blocker.close();
    }
    const { responder } = await start();
    await responder.close();
    await responder.close();
  });
});
