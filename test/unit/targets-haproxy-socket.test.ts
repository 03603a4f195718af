import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatSocketAddress, parseSocketAddress, payloadCommand, runtimeCommand, type SocketAddress,
} from '../../src/targets/haproxy-socket.js';
import type { Timers } from '../../src/time.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A fake runtime API: hands each connection's received text to `answer`, writes what it returns, closes. */
async function fakeServer(
  kind: 'unix' | 'tcp',
  answer: (received: string, sock: Socket) => string | undefined,
): Promise<{ address: SocketAddress; received: string[] }> {
  const received: string[] = [];
  const server: Server = createServer((sock) => {
    let text = '';
    sock.on('data', (d) => {
      text += d.toString('utf8');
      // One line, or a `<<` payload up to its empty line, as HAProxy reads it.
      const complete = /<<\n/.test(text) ? text.endsWith('\n\n') : text.endsWith('\n');
      if (!complete) return;
      received.push(text);
      const out = answer(text, sock);
      if (out !== undefined) sock.end(out);
    });
    sock.on('error', () => undefined);
  });
  let address: SocketAddress;
  if (kind === 'unix') {
    const dir = await mkdtemp(join(tmpdir(), 'hx-sock-'));
    const path = join(dir, 'admin.sock');
    await new Promise<void>((r) => server.listen(path, r));
    address = { kind: 'unix', path };
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  } else {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    address = { kind: 'tcp', host: '127.0.0.1', port };
  }
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { address, received };
}

/** Timers that fire only when the test says so. */
function manualTimers(): Timers & { fire(): void; pending(): number } {
  const pending = new Map<number, () => void>();
  let next = 1;
  return {
    setTimeout(fn) {
      pending.set(next, fn);
      return next++;
    },
    clearTimeout(h) {
      pending.delete(h as number);
    },
    fire() {
      for (const [id, fn] of [...pending]) {
        pending.delete(id);
        fn();
      }
    },
    pending: () => pending.size,
  };
}

describe('parseSocketAddress', () => {
  it('reads unix paths and host:port', () => {
    expect(parseSocketAddress('/run/haproxy/admin.sock')).toEqual({ kind: 'unix', path: '/run/haproxy/admin.sock' });
    expect(parseSocketAddress('unix@/run/haproxy.sock')).toEqual({ kind: 'unix', path: '/run/haproxy.sock' });
    expect(parseSocketAddress('./admin.sock')).toEqual({ kind: 'unix', path: './admin.sock' });
    expect(parseSocketAddress('127.0.0.1:9999')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9999 });
    expect(parseSocketAddress('ipv4@haproxy:9999')).toEqual({ kind: 'tcp', host: 'haproxy', port: 9999 });
    expect(parseSocketAddress('[::1]:9999')).toEqual({ kind: 'tcp', host: '::1', port: 9999 });
    expect(formatSocketAddress({ kind: 'tcp', host: '::1', port: 9999 })).toBe('[::1]:9999');
  });

  it('refuses what is neither, as a configuration error', () => {
    for (const bad of ['', 'haproxy', 'host:0', 'host:70000', '/run/a b.sock', '[zz]:1']) {
      expect(() => parseSocketAddress(bad), bad).toThrow(expect.objectContaining({ code: 'TARGET_CONFIG' }));
    }
  });
});

describe('payloadCommand', () => {
  it('ends the payload with an empty line and drops empty lines inside it', () => {
    expect(payloadCommand('set ssl cert /c/a.pem', 'A\r\n\r\nB\n\nC\n')).toBe('set ssl cert /c/a.pem <<\nA\nB\nC\n\n');
  });
});

describe('runtimeCommand', () => {
  for (const kind of ['unix', 'tcp'] as const) {
    it(`sends one command over ${kind} and reads the answer until HAProxy closes`, async () => {
      const { address, received } = await fakeServer(kind, () => '# filename\n/c/a.pem\n\n');
      await expect(runtimeCommand(address, 'show ssl cert')).resolves.toBe('# filename\n/c/a.pem\n\n');
      expect(received).toEqual(['show ssl cert\n']);
    });
  }

  it('sends a payload whole', async () => {
    const { address, received } = await fakeServer('unix', () => 'Transaction created for certificate /c/a.pem!\n\n');
    const cmd = payloadCommand('set ssl cert /c/a.pem', '-----BEGIN X-----\nAAAA\n-----END X-----\n');
    await runtimeCommand(address, cmd);
    expect(received).toEqual([cmd]);
  });

  it('fails retryable when the socket is not there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hx-none-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await expect(runtimeCommand({ kind: 'unix', path: join(dir, 'none.sock') }, 'show info')).rejects.toMatchObject({
      code: 'TARGET_HAPROXY',
      retryable: true,
      message: expect.stringContaining('show info'),
    });
  });

  it('times out on the injected timer when HAProxy never answers', async () => {
    const { address } = await fakeServer('tcp', () => undefined);
    const timers = manualTimers();
    const p = runtimeCommand(address, 'show ssl cert', { timers, timeoutMs: 1234 });
    await waitFor(() => timers.pending() === 1);
    timers.fire();
    await expect(p).rejects.toMatchObject({ code: 'TARGET_HAPROXY', retryable: true, message: expect.stringContaining('1234 ms') });
  });

  it('stops at once on abort, and before connecting when already aborted', async () => {
    const { address, received } = await fakeServer('unix', () => undefined);
    const ac = new AbortController();
    const p = runtimeCommand(address, 'show ssl cert', { signal: ac.signal });
    await waitFor(() => received.length === 1);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(runtimeCommand(address, 'show info', { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(received).toHaveLength(1);
  });

  it('gives up on an endless answer', async () => {
    const { address } = await fakeServer('tcp', (_t, sock) => {
      sock.write('x'.repeat(5000));
      return undefined;
    });
    await expect(runtimeCommand(address, 'show info', { maxAnswerBytes: 1000 })).rejects.toMatchObject({
      message: expect.stringContaining('larger than 1000 bytes'),
    });
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition not met');
}
