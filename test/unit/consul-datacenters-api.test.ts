import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { createConsulApi, type CatalogQuery, type ConsulApi } from '../../src/consul/api.js';
import { CatalogWatcher } from '../../src/consul/watcher.js';
import { isWhisperError } from '../../src/errors.js';

/** A stand-in for Consul's HTTP API: `dc=nowhere` has no path, the rest answers. */
const urls: string[] = [];
let server: Server;
let api: ConsulApi;

beforeAll(async () => {
  server = createServer((req, res) => {
    urls.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://consul');
    if (url.pathname === '/v1/catalog/datacenters') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(['dc1', 'dc2']));
    }
    if (url.searchParams.get('dc') === 'nowhere') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('No path to datacenter');
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '42' });
    res.end(JSON.stringify({ web: ['a'] }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  api = createConsulApi({ address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
});

afterAll(async () => {
  api.close?.();
  server.close();
  await once(server, 'close');
});

describe('the catalog endpoints with a datacenter', () => {
  it('send no dc without one, exactly as before', async () => {
    urls.length = 0;
    await api.catalogServices({});
    await api.catalogServices({ index: 7, wait: '1s' });
    expect(urls).toEqual(['/v1/catalog/services', '/v1/catalog/services?index=7&wait=1s']);
  });

  it('send ?dc= with one, blocking or not', async () => {
    urls.length = 0;
    expect((await api.catalogServices({ dc: 'dc2' })).services).toEqual({ web: ['a'] });
    await api.catalogServices({ dc: 'dc2', index: 7, wait: '1s' });
    expect(urls.map((u) => new URL(u, 'http://c').searchParams.get('dc'))).toEqual(['dc2', 'dc2']);
    expect(new URL(urls[1]!, 'http://c').searchParams.get('index')).toBe('7');
  });

  it('name the datacenter in the error of one without a path', async () => {
    const err = await api.catalogServices({ dc: 'nowhere' }).catch((e: unknown) => e);
    expect(isWhisperError(err)).toBe(true);
    expect((err as Error).message).toContain('?dc=nowhere');
  });

  it('list the datacenters', async () => {
    expect(await api.datacenters?.()).toEqual(['dc1', 'dc2']);
  });
});

describe('CatalogWatcher and the dc parameter', () => {
  async function firstQuery(datacenter?: string): Promise<CatalogQuery> {
    let seen: CatalogQuery | undefined;
    const ac = new AbortController();
    const fake: ConsulApi = {
      async catalogServices(q) {
        seen = q;
        ac.abort();
        return { index: 1, services: {} };
      },
      async kvSet() {},
      async kvGet() {
        return undefined;
      },
      async leader() {
        return '';
      },
    };
    await new CatalogWatcher({ api: fake, onChange: () => undefined, ...(datacenter ? { datacenter } : {}) }).run(ac.signal);
    return seen!;
  }

  it('asks without dc when watching the agent\'s own datacenter, and with it otherwise', async () => {
    expect('dc' in (await firstQuery())).toBe(false);
    expect((await firstQuery('dc2')).dc).toBe('dc2');
  });
});
