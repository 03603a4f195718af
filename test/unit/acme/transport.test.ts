import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAcmeClientFactory } from '../../../src/acme/transport.js';
import { hasProblemType } from '../../../src/acme/problems.js';
import { makeBundle, makeKey } from '../store/x509-fixture.js';
import { failure } from '../failure.js';

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}
type Handler = (path: string, req: IncomingMessage) => Reply | 'hang';

const NOW = new Date('2026-11-23T10:00:00Z');
let server: Server;
let base: string;
let handler: Handler;
let posts: string[];
let nonce = 0;
/** Requests for a fresh nonce and for the directory, and the nonce each POST was signed with. */
let nonceFetches: number;
let directoryFetches: number;
let usedNonces: string[];

function send(res: ServerResponse, reply: Reply): void {
  const json = typeof reply.body !== 'string';
  res.writeHead(reply.status, {
    'content-type': json ? (reply.status >= 400 ? 'application/problem+json' : 'application/json') : 'text/html',
    'replay-nonce': `nonce-${(nonce += 1)}`,
    ...reply.headers,
  });
  res.end(json ? JSON.stringify(reply.body ?? {}) : (reply.body as string));
}

beforeEach(async () => {
  posts = [];
  nonceFetches = 0;
  directoryFetches = 0;
  usedNonces = [];
  handler = () => ({ status: 500, body: 'unset' });
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/dir') {
      directoryFetches += 1;
      send(res, { status: 200, body: { newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order`, revokeCert: `${base}/revoke` } });
      return;
    }
    if (path === '/nonce') {
      nonceFetches += 1;
      send(res, { status: 200, body: {} });
      return;
    }
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      posts.push(path);
      const jws = JSON.parse(body) as { protected: string };
      usedNonces.push((JSON.parse(Buffer.from(jws.protected, 'base64url').toString()) as { nonce: string }).nonce);
      const reply = handler(path, req);
      if (reply !== 'hang') send(res, reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const accountKey = makeKey().pem;
const factory = createAcmeClientFactory({ now: () => NOW });
const client = (signal?: AbortSignal) =>
  factory({ directoryUrl: `${base}/dir`, accountKey, accountUrl: `${base}/acct/1`, what: 'certificate www.example.com', ...(signal ? { signal } : {}) });
const order = () => client().createOrder({ identifiers: [{ type: 'dns', value: 'www.example.com' }] });
const problem = (type: string, detail: string) => ({ type: `urn:ietf:params:acme:error:${type}`, detail });


describe('hooked acme-client transport', () => {
  it('passes good answers through', async () => {
    handler = () => ({ status: 201, headers: { location: `${base}/order/7` }, body: { status: 'pending', identifiers: [], authorizations: [], finalize: `${base}/fin` } });
    const created = await order();
    expect(created.url).toBe(`${base}/order/7`);
    expect(await client().directory()).toMatchObject({ newOrder: `${base}/order` });
  });

  it('maps 429 rateLimited to ACME_RATE_LIMITED with Retry-After, without acme-client retrying', async () => {
    handler = () => ({ status: 429, headers: { 'retry-after': '120' }, body: problem('rateLimited', 'too many new orders') });
    const err = await failure(order());
    expect(err.code).toBe('ACME_RATE_LIMITED');
    expect(err.retryable).toBe(true);
    expect(err.retryAfter).toEqual(new Date('2026-11-23T10:02:00Z'));
    expect(err.message).toContain('certificate www.example.com');
    expect(err.message).toContain('too many new orders');
    expect(posts).toEqual(['/order']);
  });

  it('retries badNonce twice with the fresh nonce, then succeeds', async () => {
    let n = 0;
    handler = () =>
      (n += 1) <= 2
        ? { status: 400, body: problem('badNonce', 'stale') }
        : { status: 201, headers: { location: `${base}/order/8` }, body: { status: 'pending', identifiers: [], authorizations: [], finalize: '' } };
    expect((await order()).url).toBe(`${base}/order/8`);
    expect(posts).toEqual(['/order', '/order', '/order']);
  });

  it('gives up on badNonce after ten retries with a retryable ACME_ORDER', async () => {
    // A CA refusing half of all nonces (Pebble's default tests) fails 1 request in 64 after five retries, 1 in 2048 after ten.
    handler = () => ({ status: 400, body: problem('badNonce', 'stale') });
    const err = await failure(order());
    expect([err.code, err.retryable]).toEqual(['ACME_ORDER', true]);
    expect(hasProblemType(err, 'badNonce')).toBe(true);
    expect(posts).toHaveLength(11);
  });

  it('maps a 503 HTML page to a retryable ACME_ORDER, once', async () => {
    handler = () => ({ status: 503, body: '<html>maintenance</html>' });
    const err = await failure(order());
    expect([err.code, err.retryable]).toEqual(['ACME_ORDER', true]);
    expect(posts).toEqual(['/order']);
  });

  it('maps a 200 HTML page to ACME_BAD_RESPONSE', async () => {
    handler = () => ({ status: 200, body: '<html>captive portal</html>' });
    const err = await failure(order());
    expect(err.code).toBe('ACME_BAD_RESPONSE');
    expect(err.message).toContain('not JSON');
  });

  it('takes an empty 200 as the CA\'s yes (revoke-cert and key-change answer without a body)', async () => {
    handler = (path) => (path === '/revoke' ? { status: 200, body: '' } : { status: 500, body: 'unexpected' });
    await client().revokeCertificate!(makeBundle(['www.example.com']).cert, { reason: 1 });
    expect(posts).toEqual(['/revoke']);
  });

  it('maps a refusing problem document to a non-retryable ACME_ORDER', async () => {
    handler = () => ({ status: 403, body: problem('unauthorized', 'not allowed for www.example.com') });
    const err = await failure(order());
    expect([err.code, err.retryable]).toEqual(['ACME_ORDER', false]);
    expect(err.message).toContain('urn:ietf:params:acme:error:unauthorized: not allowed for www.example.com');
  });

  it('maps a refused connection to a retryable ACME_ORDER naming the error code', async () => {
    const url = `${base}/dir`;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const err = await failure(factory({ directoryUrl: url, accountKey, what: 'ACME account' }).createAccount({ termsOfServiceAgreed: true }));
    expect([err.code, err.retryable]).toEqual(['ACME_ORDER', true]);
    expect(err.message).toContain('ECONNREFUSED');
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  it('aborts a request in flight with ABORTED', async () => {
    const controller = new AbortController();
    handler = () => {
      controller.abort();
      return 'hang';
    };
    const err = await failure(client(controller.signal).createOrder({ identifiers: [{ type: 'dns', value: 'www.example.com' }] }));
    expect(err.code).toBe('ABORTED');
  });

  it('signs with the nonce of an earlier answer and reads the directory once per CA', async () => {
    handler = () => ({ status: 201, headers: { location: `${base}/order/9` }, body: { status: 'pending', identifiers: [], authorizations: [], finalize: '' } });
    await order();
    await order();
    await client().createOrder({ identifiers: [{ type: 'dns', value: 'www.example.com' }] });
    expect(posts).toEqual(['/order', '/order', '/order']);
    // This server puts a nonce on every answer, the directory's too: no HEAD newNonce at all.
    expect([nonceFetches, directoryFetches]).toEqual([0, 1]);
    expect(new Set(usedNonces).size).toBe(3);
  });

  it('never reuses the nonce of a badNonce answer (acme-client retries with it)', async () => {
    let n = 0;
    handler = () =>
      (n += 1) === 1
        ? { status: 400, body: problem('badNonce', 'stale') }
        : { status: 201, headers: { location: `${base}/order/10` }, body: { status: 'pending', identifiers: [], authorizations: [], finalize: '' } };
    await order();
    await order();
    expect(posts).toHaveLength(3);
    expect(new Set(usedNonces).size).toBe(3);
  });

  it('does not send anything once the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(client(controller.signal).createOrder({ identifiers: [{ type: 'dns', value: 'www.example.com' }] }));
    expect(err.code).toBe('ABORTED');
    expect(posts).toEqual([]);
  });
});
