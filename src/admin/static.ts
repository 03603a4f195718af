import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ServerResponse } from 'node:http';
import { COMMON_HEADERS } from './respond.js';

/** The dashboard's files: `web/` at the package root (two folders above both `src/admin/` and `dist/admin/`). */
export const WEB_ROOT = resolve(import.meta.dirname, '../../web');

/** The page's policy: its own files only, no inline script or style, never in a frame. */
export const DASHBOARD_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};

/**
 * The file a dashboard path names, or `undefined`: `/` is `index.html`; otherwise one plain file name of the root
 * (no folders, no dots but the extension), so no path can leave the root.
 */
export function staticFile(path: string): { name: string; type: string } | undefined {
  const name = path === '/' ? 'index.html' : /^\/([a-z0-9][a-z0-9-]*\.(?:html|js|css|svg|png))$/.exec(path)?.[1];
  if (name === undefined) return undefined;
  return { name, type: TYPES[name.slice(name.lastIndexOf('.') + 1)]! };
}

/** Serves one dashboard file; `false` when there is no such file (the caller answers 404). */
export async function serveStatic(res: ServerResponse, root: string, file: { name: string; type: string }): Promise<boolean> {
  let body: Buffer;
  try {
    body = await readFile(join(root, file.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'cache-control': 'no-cache',
    'content-type': file.type,
    'content-length': String(body.length),
    'content-security-policy': DASHBOARD_CSP,
    'x-frame-options': 'DENY',
  });
  res.end(body);
  return true;
}
