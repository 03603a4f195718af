import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request that reached the proxy. */
export interface Route53Call {
  /** `Date.now()` when it arrived. */
  readonly at: number;
  /** The Route53 action (`ListHostedZones`, `ChangeResourceRecordSets`, ...), else `<method> <path>`. */
  readonly action: string;
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  /** The access key id the request is signed with, `(unsigned)` when none. */
  readonly key: string;
  /** Whether the proxy answered it with a Throttling error instead of passing it on. */
  readonly throttled: boolean;
}

/** Options of {@link startRoute53Proxy}. */
export interface Route53ProxyOptions {
  /** Answer this request (0-based count of all requests so far) with HTTP 400 `Throttling`, as Route53 does. */
  throttle?: (index: number, action: string) => boolean;
  /**
   * Make changes take this long to reach INSYNC, as real Route53 does (up to about 60 s) and moto does not (it
   * answers INSYNC at once): each ChangeResourceRecordSets answer says `PENDING`, and GetChange of its id answers
   * `PENDING` until this many ms after the change, `INSYNC` after. Unset: answers pass through as they are.
   */
  pendingMs?: number;
}

/** The Route53 action of a REST request (API version 2013-04-01). */
export function route53Action(method: string, url: string): string {
  const path = url.split('?')[0] ?? '';
  const m = /^\/2013-04-01\/(.+?)\/?$/.exec(path);
  const rest = m?.[1] ?? '';
  if (rest === 'hostedzone') return method === 'POST' ? 'CreateHostedZone' : 'ListHostedZones';
  if (rest === 'hostedzonesbyname') return 'ListHostedZonesByName';
  if (/^hostedzone\/[^/]+\/rrset$/.test(rest)) return method === 'POST' ? 'ChangeResourceRecordSets' : 'ListResourceRecordSets';
  if (/^change\/[^/]+$/.test(rest)) return 'GetChange';
  if (/^hostedzone\/[^/]+$/.test(rest)) return method === 'DELETE' ? 'DeleteHostedZone' : 'GetHostedZone';
  return `${method} ${path}`;
}

/** The most calls that fall in any window of `windowMs` (half-open: `[t, t + windowMs)`). */
export function maxInWindow(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

const THROTTLING_BODY =
  '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
  '<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>' +
  '<RequestId>whisper-ts-test-proxy</RequestId></ErrorResponse>';

/** Route53's answer to GetChange, built by the proxy for the changes it holds PENDING. */
function getChangeBody(id: string, status: string, submittedAt: number): string {
  return '<?xml version="1.0"?>\n<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
    `<ChangeInfo><Id>/change/${id}</Id><Status>${status}</Status><SubmittedAt>${new Date(submittedAt).toISOString()}</SubmittedAt>` +
    '</ChangeInfo></GetChangeResponse>';
}

/**
 * A plain HTTP proxy in front of the Route53 emulator (moto) that records every request: its action, arrival time
 * and the access key it is signed with; it can answer chosen requests with a Throttling error instead, and hold
 * changes PENDING for a while (`pendingMs`).
 */
export async function startRoute53Proxy(upstream: string, options: Route53ProxyOptions = {}) {
  const target = new URL(upstream);
  const calls: Route53Call[] = [];
  /** The change ids the proxy gave out (only with `pendingMs`), each with the time of its change. */
  const submitted = new Map<string, number>();
  const pendingMs = options.pendingMs;
  const server = createServer((req: IncomingMessage, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const action = route53Action(method, url);
    const key = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '(unsigned)';
    const throttled = options.throttle?.(calls.length, action) === true;
    calls.push({ at: Date.now(), action, method, url, key, throttled });
    if (throttled) {
      req.resume();
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(THROTTLING_BODY);
      return;
    }
    if (pendingMs !== undefined && action === 'GetChange') {
      const id = (url.split('?')[0] ?? '').split('/').pop() ?? '';
      const at = submitted.get(id);
      if (at !== undefined) {
        req.resume();
        const body = getChangeBody(id, Date.now() - at < pendingMs ? 'PENDING' : 'INSYNC', at);
        res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
    }
    // A change's answer is read whole to say PENDING instead of moto's INSYNC (sent unencoded for that).
    const holdChange = pendingMs !== undefined && action === 'ChangeResourceRecordSets';
    const headers = { ...req.headers, host: target.host };
    if (holdChange) delete headers['accept-encoding'];
    const up = request(
      { host: target.hostname, port: target.port, method, path: url, headers },
      (upRes) => {
        if (!holdChange || upRes.statusCode !== 200) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          let body = Buffer.concat(chunks).toString('utf8');
          // moto gives every change the same id; Route53 gives each its own, and a client may rely on that.
          const id = `CPROXY${(submitted.size + 1).toString(36).toUpperCase().padStart(8, '0')}`;
          submitted.set(id, Date.now());
          body = body
            .replace(/<Id>(\/change\/)?[^<]+<\/Id>/, `<Id>/change/${id}</Id>`)
            .replace(/<Status>INSYNC<\/Status>/, '<Status>PENDING</Status>');
          const out = { ...upRes.headers, 'content-length': String(Buffer.byteLength(body)) };
          delete out['transfer-encoding'];
          res.writeHead(200, out);
          res.end(body);
        });
      },
    );
    up.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    /** The signing key of each request, in order. */
    get keys(): string[] {
      return calls.map((c) => c.key);
    },
    /** The change ids the proxy gave out (with `pendingMs`), each with the time of its change: one per change. */
    submitted,
    /** Calls per action. */
    count(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const c of calls) out[c.action] = (out[c.action] ?? 0) + 1;
      return out;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
