import type { ServerResponse } from 'node:http';
import type { OpsEvent, OpsEvents } from '../ops/types.js';
import type { Timers } from '../time.js';
import { COMMON_HEADERS } from './respond.js';

/** A comment line every this many milliseconds keeps proxies and browsers from dropping an idle stream. */
export const KEEPALIVE_MS = 15_000;

/** Options of {@link streamEvents}. */
export interface StreamOptions {
  readonly events: OpsEvents;
  readonly timers: Timers;
  /** @default KEEPALIVE_MS */
  readonly keepaliveMs?: number;
}

/** One event in the `text/event-stream` format: `event: <type>` and its JSON on one `data:` line. */
export function formatEvent(event: OpsEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Streams every published {@link OpsEvent} to `res` as server-sent events until the client goes away or the server
 * drops the connection on close (which ends the response's `close`, so nothing here holds the server open).
 */
export function streamEvents(res: ServerResponse, options: StreamOptions): void {
  const keepaliveMs = options.keepaliveMs ?? KEEPALIVE_MS;
  res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  // A first line at once: the client's fetch resolves, and the dashboard can show that it is live.
  res.write(': connected\n\n');
  let timer: unknown;
  const arm = () => {
    timer = options.timers.setTimeout(() => {
      if (res.destroyed) return;
      res.write(': keepalive\n\n');
      arm();
    }, keepaliveMs);
  };
  arm();
  const unsubscribe = options.events.subscribe((event) => {
    if (!res.destroyed) res.write(formatEvent(event));
  });
  res.once('close', () => {
    unsubscribe();
    options.timers.clearTimeout(timer);
  });
}
