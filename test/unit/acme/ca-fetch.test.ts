import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it, expect } from 'vitest';
import { createCaFetch } from '../../../src/acme/ca-fetch.js';
import { fetchRenewalInfo } from '../../../src/acme/ari.js';
import { makeCert, makeKey } from '../store/x509-fixture.js';

const WINDOW = { suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' } };

function handler(seen: string[]): http.RequestListener {
  return (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.accept ?? ''}`);
    if (req.url === '/ri/missing') {
      res.writeHead(404).end('not here');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '3600' }).end(JSON.stringify(WINDOW));
  };
}

async function listen(server: http.Server | https.Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('createCaFetch', () => {
  it('GETs over plain HTTP with status, headers and body', async () => {
    const seen: string[] = [];
    const server = http.createServer(handler(seen));
    try {
      const port = await listen(server, '127.0.0.1');
      const fetch = createCaFetch();
      const ok = await fetch(`http://127.0.0.1:${port}/ri/abc`, { headers: { accept: 'application/json' } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('Retry-After')).toBe('3600');
      expect(ok.headers.get('x-absent')).toBeNull();
      expect(JSON.parse(await ok.text())).toEqual(WINDOW);
      const missing = await fetch(`http://127.0.0.1:${port}/ri/missing`);
      expect(missing.status).toBe(404);
      expect(await missing.text()).toBe('not here');
      expect(seen).toEqual(['GET /ri/abc application/json', 'GET /ri/missing ']);
    } finally {
      server.close();
    }
  });

  it('trusts the given CA bundle over HTTPS, and feeds fetchRenewalInfo', async () => {
    // Valid around the real clock: TLS verification uses it.
    const validity = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
    const ca = makeKey();
    const leaf = makeKey();
    const caCert = makeCert({ subjectKey: ca.privateKey, issuerKey: ca.privateKey, subject: 'Test CA', ca: true, ...validity });
    const cert = makeCert({ subjectKey: leaf.privateKey, issuerKey: ca.privateKey, issuer: 'Test CA', names: ['localhost'], ...validity });
    const bundle = { key: leaf.pem, cert, chain: caCert };
    const server = https.createServer({ key: bundle.key, cert: bundle.cert }, handler([]));
    try {
      const port = await listen(server, 'localhost');
      const now = Date.parse('2026-03-01T00:00:00Z');
      const info = await fetchRenewalInfo(`https://localhost:${port}/ri`, 'abc.AQ', { fetch: createCaFetch(bundle.chain), now: () => now });
      expect(info.start).toEqual(new Date('2026-03-10T00:00:00Z'));
      expect(info.retryAfter).toEqual(new Date(now + 3_600_000));
      // Without the bundle the private CA is not trusted.
      await expect(createCaFetch()(`https://localhost:${port}/ri/abc`)).rejects.toThrow();
    } finally {
      server.close();
    }
  });

  it('rejects other URL schemes and honours an aborted signal', async () => {
    await expect(createCaFetch()('ftp://example.com/x')).rejects.toThrow(/unsupported URL scheme/);
    const seen: string[] = [];
    const server = http.createServer(handler(seen));
    try {
      const port = await listen(server, '127.0.0.1');
      const controller = new AbortController();
      controller.abort();
      await expect(createCaFetch()(`http://127.0.0.1:${port}/ri/abc`, { signal: controller.signal })).rejects.toThrow();
    } finally {
      server.close();
    }
  });
});
