import { createServer, request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { makeServerCert } from './tls.js';

/** A request the proxy saw. */
export interface SeenRequest {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  /** Set when the proxy answered itself instead of forwarding. */
  readonly faulted: boolean;
  /** The upstream's status, once it answered (a `badNonce` refusal is a 400: not an order). */
  status?: number;
  /** A POST's JWS payload, decoded, once its body has arrived (`replaces` of a new order, say). */
  payload?: Record<string, unknown>;
}

/** The payload of a flattened JWS body, or `undefined`. */
function jwsPayload(body: string): Record<string, unknown> | undefined {
  try {
    const { payload } = JSON.parse(body) as { payload?: string };
    if (!payload) return undefined;
    const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A fault the proxy answers with instead of forwarding. */
export interface Fault {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** Base URL (`https://127.0.0.1:port`); Pebble builds its URLs from the Host header, so they point here. */
  readonly url: string;
  /** CA of the proxy's own HTTPS certificate. */
  readonly caFile: string;
  readonly seen: SeenRequest[];
  /** Decides per request: a fault, or `undefined` to forward. */
  fault: (method: string, path: string) => Fault | undefined;
  close(): Promise<void>;
}

/** An HTTPS proxy in front of an HTTPS upstream (Pebble) that can answer faults instead, for tests. */
export async function startFaultProxy(dir: string, upstream: { url: string; caFile: string }): Promise<FaultProxy> {
  const tls = await makeServerCert(dir, `proxy-${Date.now()}`);
  const upstreamCa = readFileSync(upstream.caFile);
  const target = new URL(upstream.url);
  const seen: SeenRequest[] = [];
  const proxy: FaultProxy = {
    url: '',
    caFile: tls.caFile,
    seen,
    fault: () => undefined,
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = proxy.fault(method, path);
    const entry: SeenRequest = { at: Date.now(), method, path, faulted: fault !== undefined };
    seen.push(entry);
    if (method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const payload = jwsPayload(Buffer.concat(chunks).toString('utf8'));
        if (payload) entry.payload = payload;
      });
    }
    if (fault) {
      req.resume();
      res.writeHead(fault.status, fault.headers ?? {});
      res.end(fault.body ?? '');
      return;
    }
    const up = request(
      { host: target.hostname, port: target.port, method, path, headers: req.headers, ca: upstreamCa },
      (upRes: IncomingMessage) => {
        entry.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  (proxy as { url: string }).url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return proxy;
}
