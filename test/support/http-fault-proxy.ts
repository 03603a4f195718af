import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Fault, SeenRequest } from './fault-proxy.js';

export type { Fault, SeenRequest } from './fault-proxy.js';

/** A running plain-HTTP fault proxy. */
export interface HttpFaultProxy {
  /** Base URL (`http://127.0.0.1:port`). */
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Decides per request: a fault, or `undefined` to forward. */
  fault: (method: string, path: string) => Fault | undefined;
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy in front of an HTTP upstream (moto's Route53 API) that can answer faults instead,
 * for tests: point the SDK's endpoint at {@link HttpFaultProxy.url}.
 */
export async function startHttpFaultProxy(upstream: string): Promise<HttpFaultProxy> {
  const target = new URL(upstream);
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = proxy.fault(method, path);
    seen.push({ at: Date.now(), method, path, faulted: fault !== undefined });
    if (fault) {
      req.resume();
      res.writeHead(fault.status, fault.headers ?? {});
      res.end(fault.body ?? '');
      return;
    }
    const up = request(
      { host: target.hostname, port: target.port, method, path, headers: { ...req.headers, host: target.host } },
      (upRes: IncomingMessage) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(up);
  });
  // Keep-alive sockets of the SDK would otherwise hold close() open.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const proxy: HttpFaultProxy = {
    url: `http://127.0.0.1:${port}`,
    seen,
    fault: () => undefined,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return proxy;
}

/** Route53's throttling answer: HTTP 400 with the AWS error XML the SDK reads as `Throttling`. */
export function route53Throttling(): Fault {
  return {
    status: 400,
    headers: { 'content-type': 'text/xml' },
    body:
      '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
      '<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>' +
      `<RequestId>${Math.random().toString(16).slice(2)}</RequestId></ErrorResponse>`,
  };
}

/** An AWS-style server fault: HTTP 500 `InternalFailure`. */
export function route53ServerError(): Fault {
  return {
    status: 500,
    headers: { 'content-type': 'text/xml' },
    body:
      '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
      '<Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>We encountered an internal error.</Message></Error>' +
      `<RequestId>${Math.random().toString(16).slice(2)}</RequestId></ErrorResponse>`,
  };
}
