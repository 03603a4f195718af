import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createConsulApi, type ConsulApi } from '../../../src/consul/api.js';
import { makeCert, makeKey } from '../store/x509-fixture.js';

/** A CA and a leaf it signed for `name`, valid around now. */
function pki(name: string) {
  const notBefore = new Date(Date.now() - 86_400_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = makeKey();
  const leaf = makeKey();
  const caCert = makeCert({ subjectKey: ca.privateKey, issuerKey: ca.privateKey, subject: `${name} CA`, ca: true, notBefore, notAfter });
  const cert = makeCert({ subjectKey: leaf.privateKey, issuerKey: ca.privateKey, issuer: `${name} CA`, names: [name], notBefore, notAfter });
  return { key: leaf.pem, cert, chain: caCert };
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A stand-in for Consul's HTTP API on a local port; each test sets `handler`. */
let handler: Handler;
const seen: Array<{ method: string; url: string; token: string | undefined; body: string }> = [];
let server: Server;
let port: number;
let api: ConsulApi | undefined;

function serve(req: IncomingMessage, res: ServerResponse) {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', token: req.headers['x-consul-token'] as string | undefined, body });
    handler(req, res, body);
  });
}

function json(res: ServerResponse, status: number, value: unknown, index?: number) {
  res.writeHead(status, { 'content-type': 'application/json', ...(index === undefined ? {} : { 'x-consul-index': String(index) }) });
  res.end(JSON.stringify(value));
}

function text(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(message);
}

beforeAll(async () => {
  server = createServer(serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
});

afterEach(() => {
  api?.close?.();
  api = undefined;
  seen.length = 0;
});

function local(options: Partial<Parameters<typeof createConsulApi>[0]> = {}): ConsulApi {
  api = createConsulApi({ address: `127.0.0.1:${port}`, ...options });
  return api;
}

describe('createConsulApi: catalog', () => {
  it('reads the service list and the X-Consul-Index, sending the token as a header', async () => {
    handler = (_req, res) => json(res, 200, { consul: [], web: ['dns=example.com', 'vhost=www'], old: null }, 1234);
    const result = await local({ token: 'secret-token' }).catalogServices({});
    expect(result).toEqual({ index: 1234, services: { consul: [], web: ['dns=example.com', 'vhost=www'], old: [] } });
    expect(seen).toEqual([{ method: 'GET', url: '/v1/catalog/services', token: 'secret-token', body: '' }]);
  });

  it('keeps a service called __proto__ as a service, and drops tags that are not strings', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '7' });
      res.end('{"__proto__":["dns=example.com","ssl=on"],"odd":["a",1,null,"b"]}');
    };
    const { services } = await local().catalogServices({});
    expect(Object.keys(services)).toEqual(['__proto__', 'odd']);
    expect(services['__proto__']).toEqual(['dns=example.com', 'ssl=on']);
    expect(services['odd']).toEqual(['a', 'b']);
  });

  it('names an answer that is not JSON as unreadable, and retryable', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '3' });
      res.end('{"web": [');
    };
    const err = await local().catalogServices({}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONSUL_ERROR', retryable: true });
    expect((err as Error).message).toMatch(/unreadable answer to GET \/v1\/catalog\/services/);
  });

  it('blocks with index and wait when given an index', async () => {
    handler = (_req, res) => json(res, 200, {}, 43);
    await local().catalogServices({ index: 42, wait: '30s' });
    await local().catalogServices({ index: 42 });
    expect(seen.map((s) => s.url)).toEqual(['/v1/catalog/services?index=42&wait=30s', '/v1/catalog/services?index=42&wait=5m']);
    expect(seen[0]!.token).toBeUndefined();
  });

  it('reports a missing index header as 0', async () => {
    handler = (_req, res) => json(res, 200, {});
    expect((await local().catalogServices({})).index).toBe(0);
  });

  it('rejects an answer that is not a service list', async () => {
    handler = (_req, res) => json(res, 200, ['a'], 3);
    await expect(local().catalogServices({})).rejects.toMatchObject({ code: 'CONSUL_ERROR' });
  });
});

describe('createConsulApi: errors', () => {
  it('says the ACL token lacks permission on 403, naming the endpoint, never the token', async () => {
    handler = (_req, res) => text(res, 403, 'Permission denied');
    const err = await local({ token: 'secret-token' }).catalogServices({}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONSUL_ERROR', retryable: false });
    const message = (err as Error).message;
    expect(message).toContain('GET /v1/catalog/services');
    expect(message).toContain('ACL token lacks permission');
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).not.toContain('secret-token');
  });

  it('treats 5xx and 429 as Consul being unavailable (retryable), other 4xx as errors', async () => {
    handler = (_req, res) => text(res, 500, 'No cluster leader');
    await expect(local().catalogServices({})).rejects.toMatchObject({ code: 'CONSUL_UNAVAILABLE', retryable: true });
    handler = (_req, res) => text(res, 429, 'rate limit exceeded');
    await expect(local().kvGet('k')).rejects.toMatchObject({ code: 'CONSUL_UNAVAILABLE', retryable: true });
    handler = (_req, res) => text(res, 400, 'Invalid wait time');
    const err = await local().catalogServices({ index: 1, wait: '1s' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONSUL_ERROR', retryable: false });
    expect((err as Error).message).toContain('Invalid wait time');
  });

  it('treats a refused connection as Consul being unavailable', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const freePort = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    api = createConsulApi({ address: `127.0.0.1:${freePort}` });
    const err = await api.leader().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONSUL_UNAVAILABLE', retryable: true });
    expect((err as Error).message).toContain('GET /v1/status/leader');
  });

  it('gives up on a request that outlives its timeout', async () => {
    handler = () => undefined; // never answers
    await expect(local({ timeoutMs: 50 }).kvGet('slow')).rejects.toMatchObject({ code: 'CONSUL_UNAVAILABLE', retryable: true });
  });

  it('aborts an in-flight blocking query when the signal aborts', async () => {
    let arrived!: () => void;
    const hanging = new Promise<void>((r) => (arrived = r));
    let closedByClient!: () => void;
    const clientClosed = new Promise<void>((r) => (closedByClient = r));
    handler = (req) => {
      req.socket.once('close', () => closedByClient());
      arrived();
    };
    const ac = new AbortController();
    const pending = local().catalogServices({ index: 5, wait: '5m', signal: ac.signal });
    await hanging;
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    await clientClosed;
  });

  it('fails a blocking query whose answer is cut short, rather than waiting out its wait', async () => {
    // A real agent does this when it stops while answering; the default wait would hold the query for 5 minutes.
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100', 'x-consul-index': '7' });
      res.write('{"web":');
      setImmediate(() => req.socket.destroy());
    };
    const err = await local().catalogServices({ index: 5, wait: '5m' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONSUL_UNAVAILABLE', retryable: true });
    expect((err as Error).message).toContain('GET /v1/catalog/services');
    expect((err as Error).message).toContain('closed in the middle of the answer');
    // The agent still serves the next query.
    handler = (_req, res) => json(res, 200, { web: ['a'] }, 8);
    expect(await api!.catalogServices({ index: 5, wait: '5m' })).toEqual({ index: 8, services: { web: ['a'] } });
  });

  it('counts the connections that closed, keeping one open across answers', async () => {
    handler = (_req, res) => json(res, 200, { web: [] }, 3);
    const consul = local();
    await consul.catalogServices({});
    await consul.catalogServices({ index: 2 });
    expect(seen).toHaveLength(2);
    expect(consul.closedConnections?.()).toBe(0);
    // Consul going away closes its idle keep-alive connections.
    server.closeAllConnections();
    await expect.poll(() => consul.closedConnections?.()).toBe(1);
  });

  it('sends nothing when the signal is already aborted', async () => {
    handler = (_req, res) => json(res, 200, {}, 1);
    await expect(local().catalogServices({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(seen).toEqual([]);
  });
});

describe('createConsulApi: KV and status', () => {
  it('writes a key with PUT, the value as the body', async () => {
    handler = (_req, res) => json(res, 200, true);
    await local().kvSet('whisper/updated', '{"files":["a.pem"]}');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('PUT');
    expect(decodeURIComponent(seen[0]!.url)).toBe('/v1/kv/whisper/updated');
    expect(seen[0]!.body).toBe('{"files":["a.pem"]}');
  });

  it('fails a write Consul did not store', async () => {
    handler = (_req, res) => json(res, 200, false);
    await expect(local().kvSet('k', 'v')).rejects.toMatchObject({ code: 'CONSUL_ERROR' });
  });

  it('reads a key (base64-decoded), undefined when absent, empty for a null value', async () => {
    handler = (req, res) => {
      if (req.url?.includes('missing')) return json(res, 404, null);
      if (req.url?.includes('empty')) return json(res, 200, [{ Key: 'empty', Value: null }], 9);
      json(res, 200, [{ Key: 'k', Value: Buffer.from('hello').toString('base64') }], 9);
    };
    expect(await local().kvGet('k')).toBe('hello');
    expect(await local().kvGet('missing')).toBeUndefined();
    expect(await local().kvGet('empty')).toBe('');
  });

  it('writes a key only if unchanged (?cas=<index>), saying whether Consul stored it', async () => {
    handler = (req, res) => json(res, 200, req.url?.includes('cas=0'));
    expect(await local().kvCas!('whisper/leader/account', 'v1', 0)).toBe(true);
    expect(await local().kvCas!('whisper/leader/account', 'v2', 17)).toBe(false);
    expect(seen.map((s) => [s.method, decodeURIComponent(s.url), s.body])).toEqual([
      ['PUT', '/v1/kv/whisper/leader/account?cas=0', 'v1'],
      ['PUT', '/v1/kv/whisper/leader/account?cas=17', 'v2'],
    ]);
  });

  it('reads the leader', async () => {
    handler = (_req, res) => json(res, 200, '127.0.0.1:8300');
    expect(await local().leader()).toBe('127.0.0.1:8300');
  });
});

describe('createConsulApi: addresses and TLS', () => {
  it('reaches an IPv6 address in brackets', async () => {
    const v6 = createServer((_req, res) => json(res, 200, { v6: [] }, 2));
    v6.listen(0, '::1');
    await once(v6, 'listening');
    try {
      api = createConsulApi({ address: `[::1]:${(v6.address() as AddressInfo).port}` });
      expect((await api.catalogServices({})).services).toEqual({ v6: [] });
    } finally {
      api?.close?.();
      v6.closeAllConnections();
      v6.close();
    }
  });

  it('speaks HTTPS with a CA file and a client certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-consul-tls-'));
    const serverPki = pki('localhost');
    const clientPki = pki('whisper-client');
    const files = {
      caFile: join(dir, 'ca.pem'),
      certFile: join(dir, 'client.pem'),
      keyFile: join(dir, 'client.key'),
    };
    await writeFile(files.caFile, serverPki.chain);
    await writeFile(files.certFile, clientPki.cert);
    await writeFile(files.keyFile, clientPki.key);
    let clientCertSeen = false;
    const tls = createTlsServer(
      { key: serverPki.key, cert: serverPki.cert, ca: clientPki.chain, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        clientCertSeen = (req.socket as TLSSocket).authorized;
        json(res, 200, '10.0.0.1:8300');
      },
    );
    tls.listen(0);
    await once(tls, 'listening');
    try {
      const tlsPort = (tls.address() as AddressInfo).port;
      api = createConsulApi({ address: `localhost:${tlsPort}`, secure: true, ...files });
      expect(await api.leader()).toBe('10.0.0.1:8300');
      expect(clientCertSeen).toBe(true);
      api.close?.();
      // Without our CA the server's certificate is not trusted.
      api = createConsulApi({ address: `https://localhost:${tlsPort}` });
      await expect(api.leader()).rejects.toMatchObject({ code: 'CONSUL_UNAVAILABLE' });
    } finally {
      api?.close?.();
      tls.closeAllConnections();
      tls.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails clearly when a TLS file cannot be read', () => {
    expect(() => createConsulApi({ address: 'consul', secure: true, caFile: join(tmpdir(), 'no-such-dir-whisper', 'ca.pem') })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('CA file') }),
    );
  });
});
