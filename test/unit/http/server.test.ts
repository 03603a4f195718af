import { describe, it, expect } from 'vitest';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../../src/log.js';
import { createMetrics } from '../../../src/http/metrics.js';
import { startHttpServer } from '../../../src/http/server.js';
import type { Readiness } from '../../../src/http/ready.js';
import type { Health } from '../../../src/http/health.js';
import { isWhisperError } from '../../../src/errors.js';

const log = silentLogger();

const healthy = () => Promise.resolve<Health>({ ok: true });

async function start(ready: () => Promise<Readiness> = () => Promise.resolve({ ready: true }), health: () => Promise<Health> = healthy) {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.attach({ queueDepth: () => 7 });
  const server = await startHttpServer({ listen: { host: '127.0.0.1', port: 0 }, metrics, health, ready, log });
  const get = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${server.port}${path}`, init);
  return { server, get };
}

describe('startHttpServer', () => {
  it('serves /metrics, /healthz and /readyz', async () => {
    const { server, get } = await start();
    try {
      const m = await get('/metrics');
      expect(m.status).toBe(200);
      expect(m.headers.get('content-type')).toContain('text/plain');
      expect(await m.text()).toContain('whisper_queue_depth 7');
      const h = await get('/healthz');
      expect(h.status).toBe(200);
      expect(await h.json()).toEqual({ status: 'ok' });
      const r = await get('/readyz?verbose=1');
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ status: 'ready' });
      expect((await get('/other')).status).toBe(404);
      expect((await get('/healthz', { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('answers 503 with the reason when not ready', async () => {
    const { server, get } = await start(() => Promise.resolve({ ready: false, reason: 'ACME account not ready' }));
    try {
      const r = await get('/readyz');
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ status: 'not ready', reason: 'ACME account not ready' });
      expect((await get('/healthz')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('answers 500 when a check throws, and keeps serving', async () => {
    const { server, get } = await start(() => Promise.reject(new Error('boom')));
    try {
      expect((await get('/readyz')).status).toBe(500);
      expect((await get('/healthz')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('answers /healthz with 503 and the reason when the folder is not writable, asking on every request', async () => {
    let answer: Health = { ok: false, reason: 'certificate folder /certs is not writable: EROFS' };
    let asked = 0;
    const { server, get } = await start(undefined, () => (asked++, Promise.resolve(answer)));
    try {
      const h = await get('/healthz');
      expect(h.status).toBe(503);
      expect(h.headers.get('content-type')).toBe('application/json');
      expect(h.headers.get('cache-control')).toBe('no-store');
      expect(await h.json()).toEqual({ status: 'failing', reason: 'certificate folder /certs is not writable: EROFS' });
      expect((await get('/healthz', { method: 'HEAD' })).status).toBe(503);
      expect((await get('/readyz')).status).toBe(200);
      answer = { ok: true };
      const again = await get('/healthz');
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ status: 'ok' });
      expect(asked).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('answers /healthz with 500 when the check throws', async () => {
    const { server, get } = await start(undefined, () => Promise.reject(new Error('boom')));
    try {
      expect((await get('/healthz')).status).toBe(500);
      expect((await get('/readyz')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('fails with CONFIG_INVALID naming --listen when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const err = await startHttpServer({ listen: { host: '127.0.0.1', port }, metrics: createMetrics({ defaultMetrics: false }), health: healthy, ready: () => Promise.resolve({ ready: true }), log }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isWhisperError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toBe(`--listen 127.0.0.1:${port}: cannot listen: the address is already in use`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('closes (idempotently), so the port is free again', async () => {
    const { server } = await start();
    const port = server.port;
    await server.close();
    await server.close();
    const again = await startHttpServer({ listen: { host: '127.0.0.1', port }, metrics: createMetrics({ defaultMetrics: false }), health: healthy, ready: () => Promise.resolve({ ready: true }), log });
    expect(again.port).toBe(port);
    await again.close();
  });
});
