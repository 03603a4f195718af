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
