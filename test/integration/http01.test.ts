import { describe, it, expect, inject } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { sans, verifyAgainstPebble } from '../support/certs.js';
import { daemonHarness } from '../support/harness.js';
import { freePort } from '../support/ports.js';
import { eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import { http01Args, http01World, responderRequests } from './http01-helpers.js';
import '../support/env-types.js';

const env = inject('env');
const h = daemonHarness(env, 'http01');
const steps = (logs: Array<Record<string, unknown>>, prefix: string) => logs.filter((l) => l.msg === 'ACME step' && String(l.step).startsWith(prefix));

describe('HTTP-01 through HAProxy against Pebble', () => {
  it('a single daemon answers with its --http01-listen responder; the token is gone afterwards', async () => {
    const world = await http01World(env, h.cleanups, 'h1');
    const responderPort = await freePort();
    const hx = await world.haproxy([`127.0.0.1:${responderPort}`]);
    const folder = join(world.base, 'certs');
    const w = h.daemon([...http01Args(env, world, folder), '--http01-listen', `127.0.0.1:${responderPort}`]);
    await eventually('the responder', () => w.logs.some((l) => l.msg === 'HTTP-01 responder listening') || undefined, 30_000);

    const service = `web${uniq()}`;
    const name = `${service}.${world.zone}`;
    await registerService(env, service, [`dns=${world.zone}`, 'ssl=offloading']);
    const pem = await eventually('the certificate', () => fileOnce(join(folder, `${name}.pem`)), 90_000);
    const leaf = await verifyAgainstPebble({ ...env, pebble: world.pebble }, pem);
    expect(sans(leaf)).toEqual([name]);

    // Pebble's request came through HAProxy to the responder, for that name, and found the token.
    const asked = responderRequests(w).filter((r) => r.found);
    expect(asked.length).toBeGreaterThanOrEqual(1);
    expect(asked[0]!.host).toContain(name);
    expect(steps(w.logs, 'http01.present')).toHaveLength(1);
    await eventually('the token removed', () => steps(w.logs, 'http01.cleanUp').length > 0 || undefined, 10_000);
    const token = asked[0]!.token;
    expect((await fetch(`http://127.0.0.1:${responderPort}/.well-known/acme-challenge/${token}`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${hx.http01Port}/.well-known/acme-challenge/${token}`)).status).toBe(404);
    // HAProxy sends nothing else to it, and it answers nothing else.
    expect((await fetch(`http://127.0.0.1:${hx.http01Port}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${responderPort}/`)).status).toBe(404);
    // No key authorization in the logs: its thumbprint half never appears.
    expect(w.output()).not.toMatch(new RegExp(`${token}\\.[A-Za-z0-9_-]{20,}`));
  });

  it('--http01-webroot writes the token files a web server serves, and removes them after', async () => {
    const world = await http01World(env, h.cleanups, 'hw');
    const webroot = join(world.base, 'www');
    // A tiny static server of the webroot, recording what it served.
    const served: Array<{ path: string; status: number }> = [];
    const server: Server = createServer((req, res) => {
      const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!));
      readFile(join(webroot, path)).then(
        (body) => {
          served.push({ path, status: 200 });
          res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
        },
        () => {
          served.push({ path, status: 404 });
          res.writeHead(404).end();
        },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    h.cleanups.push(() => new Promise((r) => server.close(r)));
    await world.haproxy([`127.0.0.1:${(server.address() as AddressInfo).port}`]);

    const folder = join(world.base, 'certs');
    const w = h.daemon([...http01Args(env, world, folder), '--http01-webroot', webroot]);
    const service = `web${uniq()}`;
    const name = `${service}.${world.zone}`;
    await registerService(env, service, [`dns=${world.zone}`, 'ssl=offloading']);
    const pem = await eventually('the certificate', () => fileOnce(join(folder, `${name}.pem`)), 90_000);
    expect(sans(await verifyAgainstPebble({ ...env, pebble: world.pebble }, pem))).toEqual([name]);

    const hits = served.filter((s) => s.path.startsWith('/.well-known/acme-challenge/') && s.status === 200);
    expect(hits.length).toBeGreaterThanOrEqual(1);
    await eventually('the token removed', () => steps(w.logs, 'http01.cleanUp').length > 0 || undefined, 10_000);
    expect(await readdir(join(webroot, '.well-known', 'acme-challenge'))).toEqual([]);
  });
});
