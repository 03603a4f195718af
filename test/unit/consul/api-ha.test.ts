import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { createConsulApi, type ConsulApi } from '../../../src/consul/api.js';

/** Consul's HTTP API as high availability uses it: sessions tied to checks, and the agent's TTL check calls. */
let answer: (req: IncomingMessage, res: ServerResponse) => void;
const seen: Array<{ method: string; url: string; body: string }> = [];
let server: Server;
let api: ConsulApi | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: decodeURIComponent(req.url ?? ''), body });
      answer(req, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

afterEach(() => {
  api?.close?.();
  api = undefined;
  seen.length = 0;
});

function local(): ConsulApi {
  api = createConsulApi({ address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  return api;
}

function reply(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain' });
  res.end(body);
}

describe('createConsulApi: high availability', () => {
  it('creates a session tied to the given checks', async () => {
    answer = (_req, res) => reply(res, 200, '{"ID":"4ca8e74b-6350-7587-addf-a18084928f3c"}');
    const id = await local().sessionCreate!({ name: 'whisper-ts web1 42', ttl: '15s', lockDelay: '5s', behavior: 'release', checks: ['serfHealth', 'whisper-ts-web1-42-a1b2c3'] });
    expect(id).toBe('4ca8e74b-6350-7587-addf-a18084928f3c');
    expect(seen[0]!.method).toBe('PUT');
    expect(seen[0]!.url).toBe('/v1/session/create');
    expect(JSON.parse(seen[0]!.body)).toEqual({
      Name: 'whisper-ts web1 42',
      TTL: '15s',
      LockDelay: '5s',
      Behavior: 'release',
      Checks: ['serfHealth', 'whisper-ts-web1-42-a1b2c3'],
    });
  });

  it('registers the instance as a service with one TTL check, passing, reaped a while after it goes critical', async () => {
    answer = (_req, res) => reply(res, 200, '');
    await local().agentServiceRegister!({
      id: 'whisper-ts-web1-42-a1b2c3',
      name: 'whisper-ts',
      meta: { lock_key: 'whisper/leader' },
      checkName: 'whisper-ts leader election (whisper/leader)',
      ttl: '3s',
      deregisterAfter: '1m',
    });
    expect(seen[0]!.method).toBe('PUT');
    expect(seen[0]!.url).toBe('/v1/agent/service/register');
    expect(JSON.parse(seen[0]!.body)).toEqual({
      ID: 'whisper-ts-web1-42-a1b2c3',
      Name: 'whisper-ts',
      Meta: { lock_key: 'whisper/leader' },
      Check: {
        CheckID: 'whisper-ts-web1-42-a1b2c3',
        Name: 'whisper-ts leader election (whisper/leader)',
        TTL: '3s',
        Status: 'passing',
        DeregisterCriticalServiceAfter: '1m',
      },
    });
  });

  it('passes the check, and fails when the agent does not know it', async () => {
    answer = (req, res) => (req.url!.includes('gone') ? reply(res, 404, 'Unknown check ID "gone"') : reply(res, 200, ''));
    await local().agentCheckPass!('whisper-ts-web1-42-a1b2c3');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['PUT /v1/agent/check/pass/whisper-ts-web1-42-a1b2c3']);
    await expect(local().agentCheckPass!('gone')).rejects.toMatchObject({ code: 'CONSUL_ERROR' });
  });

  it('deregisters the service; one the agent no longer knows counts as done', async () => {
    answer = (req, res) => (req.url!.includes('gone') ? reply(res, 404, 'Unknown service ID "gone"') : reply(res, 200, ''));
    await local().agentServiceDeregister!('whisper-ts-web1-42-a1b2c3');
    await local().agentServiceDeregister!('gone');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'PUT /v1/agent/service/deregister/whisper-ts-web1-42-a1b2c3',
      'PUT /v1/agent/service/deregister/gone',
    ]);
  });

  it('says a session Consul no longer knows is not renewed', async () => {
    answer = (_req, res) => reply(res, 404, "Session id '4ca8e74b' not found");
    expect(await local().sessionRenew!('4ca8e74b')).toBe(false);
  });
});
