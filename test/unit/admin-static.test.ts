import { describe, it, expect, afterEach } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DASHBOARD_CSP, WEB_ROOT, staticFile } from '../../src/admin/static.js';
import { startAdmin } from './admin-server.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('staticFile', () => {
  it('maps / to index.html and plain names to themselves', () => {
    expect(staticFile('/')).toEqual({ name: 'index.html', type: 'text/html; charset=utf-8' });
    expect(staticFile('/app.js')).toEqual({ name: 'app.js', type: 'text/javascript; charset=utf-8' });
    expect(staticFile('/style.css')?.type).toBe('text/css; charset=utf-8');
  });
  it('claims nothing that could leave the folder, nor other paths', () => {
    for (const p of ['/../package.json', '/%2e%2e/x.js', '/a/b.js', '/.env.js', '/x.json', '/metrics', '/index.html/', '/APP.JS']) expect(staticFile(p), p).toBeUndefined();
  });
});

describe('dashboard files', () => {
  it('serves the page and its assets with a strict policy, and leaves other paths to the server', async () => {
    const s = await startAdmin({});
    close = () => s.server.close();
    const page = await s.call('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toBe(await readFile(join(WEB_ROOT, 'index.html'), 'utf8'));
    for (const asset of ['app.js', 'api.js', 'certs.js', 'panels.js', 'dom.js', 'style.css']) {
      const r = await s.call(`/${asset}`);
      expect(r.status, asset).toBe(200);
      expect(r.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    }
    expect((await s.call('/nope.js')).status).toBe(404);
    expect((await s.call('/favicon.ico')).status).toBe(404);
    expect((await s.call('/', { method: 'HEAD' })).status).toBe(200);
    // The probes and metrics are untouched.
    expect((await s.call('/healthz')).status).toBe(200);
    expect((await s.call('/metrics')).status).toBe(200);
    expect((await s.call('/healthz', { method: 'POST' })).status).toBe(405);
  });

  it('ships no external resource: every URL in the page and the scripts is relative', async () => {
    for (const file of ['index.html', 'app.js', 'api.js', 'certs.js', 'panels.js', 'dom.js', 'style.css']) {
      const text = await readFile(join(WEB_ROOT, file), 'utf8');
      const urls = [...text.matchAll(/https?:\/\/[^\s'"`)]+/g)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg');
      expect(urls, file).toEqual([]);
      expect(text, file).not.toMatch(/@import|url\(/);
    }
  });
});
