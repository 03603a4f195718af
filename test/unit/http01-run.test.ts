import { describe, it, expect } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { buildConfig } from '../../src/config.js';
import type { ConsulApi } from '../../src/consul/api.js';
import { silentLogger } from '../../src/log.js';
import { withHttp01 } from '../../src/http01/run.js';
import type { Http01Solver } from '../../src/http01/solver.js';

const TOKEN = 'Ot4x3tZ3h8Gm4rjY9o0wXg';
const build = (raw: Record<string, unknown>) => buildConfig('certs', raw, { env: {}, cwd: '/srv', readFile: () => '' });
const noConsul = (): ConsulApi => {
  throw new Error('no Consul without --ha');
};

function fakeConsul() {
  const data = new Map<string, string>();
  const api = {
    kvSet: async (key: string, value: string) => void data.set(key, value),
    kvGet: async (key: string) => data.get(key),
    kvDelete: async (key: string) => void data.delete(key),
  } as unknown as ConsulApi;
  return { api, data };
}

/** A port free right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('withHttp01 (the daemon\'s wiring)', () => {
  it('--http01-listen: runs with an in-memory store the responder answers from, and closes the responder after, even on failure', async () => {
    const p = await freePort();
    const config = build({ challenge: 'http-01', http01Listen: `127.0.0.1:${p}`, dnsProvider: 'none' });
    const url = `http://127.0.0.1:${p}/.well-known/acme-challenge/${TOKEN}`;
    const err = await withHttp01(config, silentLogger(), {}, noConsul, async (parts) => {
      expect(parts.http01.name).toBe('memory');
      await parts.http01.present(TOKEN, `${TOKEN}.x`);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`${TOKEN}.x`);
      throw new Error('pipeline failed');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('pipeline failed');
    await expect(fetch(url)).rejects.toThrow();
  });

  it('--http01-listen with --ha: tokens go to Consul KV under <lock-key>/http01, the parts carry the client', async () => {
    const config = build({ challenge: 'http-01', http01Listen: '127.0.0.1:0', dnsProvider: 'none', ha: true, lockKey: 'whisper/leader' });
    const consul = fakeConsul();
    let solver: Http01Solver | undefined;
    await withHttp01(config, silentLogger(), {}, () => consul.api, async (parts) => {
      solver = parts.http01;
      expect(parts.consul).toBe(consul.api);
      await parts.http01.present(TOKEN, `${TOKEN}.x`);
      expect(consul.data.get(`whisper/leader/http01/${TOKEN}`)).toBe(`${TOKEN}.x`);
      await parts.http01.cleanUp(TOKEN);
    });
    expect(solver?.name).toBe('consul-kv');
    expect(consul.data.size).toBe(0);
  });

  it('--http01-webroot: the webroot writer, no responder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-run-webroot-'));
    try {
      const config = build({ challenge: 'http-01', http01Webroot: dir });
      await withHttp01(config, silentLogger(), {}, noConsul, async (parts) => {
        expect(parts.http01.name).toBe('webroot');
        await parts.http01.present(TOKEN, 'v');
        expect(await readFile(join(dir, '.well-known', 'acme-challenge', TOKEN), 'utf8')).toBe('v');
        await parts.http01.cleanUp(TOKEN);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
