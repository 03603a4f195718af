import { createServer, request } from 'node:http';

/** A plain HTTP reverse proxy that records every request path (to count what a client asks Consul). */
export interface CountingProxy {
  /** `127.0.0.1:port`. */
  readonly addr: string;
  readonly seen: Array<{ at: number; method: string; path: string }>;
  close(): Promise<void>;
}

/** Starts a {@link CountingProxy} in front of `upstream` (`host:port`). */
export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const [host, port] = upstream.split(':');
  const seen: CountingProxy['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ at: Date.now(), method: req.method ?? 'GET', path: req.url ?? '/' });
    const up = request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const addr = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    addr,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
