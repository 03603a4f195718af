import { describe, it, expect, afterEach } from 'vitest';
import { createServer } from 'node:net';
import { isWhisperError } from '../../../src/errors.js';
import { exchange, formatServer, parseServer, sendTcp, sendUdp } from '../../../src/dns/transport.js';
import { buildQuery, encodeMessage, RRType } from '../../../src/dns/wire.js';
import { decodeMessage } from '../../../src/dns/wire-decode.js';
import { startFakeDns, type FakeHandler } from './fake-dns.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function fake(handler: FakeHandler): Promise<{ host: string; port: number }> {
  const srv = await startFakeDns(handler);
  closers.push(srv.close);
  return { host: '127.0.0.1', port: srv.port };
}

/** An answer to `packet` with a marker TXT string, optionally truncated or with another id. */
function answer(packet: Buffer, marker: string, opts: { tc?: boolean; id?: number } = {}): Buffer {
  const q = decodeMessage(packet);
  return encodeMessage({
    ...q, id: opts.id ?? q.id, qr: true, tc: opts.tc ?? false,
    answers: opts.tc ? [] : [{ name: q.questions[0]?.name ?? '', type: RRType.TXT, class: 1, ttl: 1, data: { kind: 'txt', strings: [marker] } }],
  });
}

const marker = (raw: Buffer): unknown => decodeMessage(raw).answers[0]?.data;
const query = (id = 0x1111): Buffer => encodeMessage(buildQuery(id, 'q.example', RRType.TXT));

describe('parseServer', () => {
  it('reads host, host:port, [v6]:port and bare v6, with port 53 by default', () => {
    expect(parseServer('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 53 });
    expect(parseServer('ns1.example.com:5353')).toEqual({ host: 'ns1.example.com', port: 5353 });
    expect(parseServer('[::1]:54')).toEqual({ host: '::1', port: 54 });
    expect(parseServer('2001:db8::1')).toEqual({ host: '2001:db8::1', port: 53 });
    expect(formatServer({ host: '::1', port: 54 })).toBe('[::1]:54');
  });

  it('rejects an empty host or a bad port', () => {
    for (const bad of ['', ':53', 'host:0', 'host:70000']) {
      let caught: unknown;
      try {
        parseServer(bad);
      } catch (err) {
        caught = err;
      }
      expect(isWhisperError(caught, 'CONFIG_INVALID')).toBe(true);
    }
  });
});

describe('exchange', () => {
  it('answers over UDP', async () => {
    const seen: string[] = [];
    const server = await fake((p, t) => (seen.push(t), answer(p, 'udp')));
    expect(marker(await exchange(query(), server))).toEqual({ kind: 'txt', strings: ['udp'] });
    expect(seen).toEqual(['udp']);
  });

  it('ignores a datagram with another id and takes the matching one', async () => {
    const server = await fake((p) => [answer(p, 'spoofed', { id: 0x2222 }), answer(p, 'real')]);
    expect(marker(await exchange(query(0x1111), server))).toEqual({ kind: 'txt', strings: ['real'] });
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const seen: string[] = [];
    const server = await fake((p, t) => (seen.push(t), t === 'udp' ? answer(p, '', { tc: true }) : answer(p, 'tcp')));
    expect(marker(await exchange(query(), server))).toEqual({ kind: 'txt', strings: ['tcp'] });
    expect(seen).toEqual(['udp', 'tcp']);
  });

  it('uses TCP at once when asked', async () => {
    const seen: string[] = [];
    const server = await fake((p, t) => (seen.push(t), answer(p, t)));
    expect(marker(await exchange(query(), server, { tcp: true }))).toEqual({ kind: 'txt', strings: ['tcp'] });
    expect(seen).toEqual(['tcp']);
  });

  it('rejects a TCP answer with another id', async () => {
    const server = await fake((p) => answer(p, 'x', { id: 0x3333 }));
    await expect(sendTcp(query(0x1111), server)).rejects.toThrow(/does not match the query id/);
  });

  it('times out as a retryable provider error when nobody answers', async () => {
    const server = await fake(() => undefined);
    const err: unknown = await sendUdp(query(), server, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect((err as Error).message).toBe(`DNS over UDP to 127.0.0.1:${server.port}: no answer within 30 ms`);
    expect((err as { retryable: boolean }).retryable).toBe(true);
  });

  it('stops with ABORTED when the signal fires, before or during the wait', async () => {
    const server = await fake(() => undefined);
    const before = new AbortController();
    before.abort();
    await expect(exchange(query(), server, { signal: before.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    const during = new AbortController();
    const pending = sendTcp(query(), server, { signal: during.signal, timeoutMs: 60_000 });
    during.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('reports a refused TCP connection as retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    await expect(sendTcp(query(), { host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'DNS_PROVIDER', retryable: true });
  });
});
