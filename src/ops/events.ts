import type { OpsEvent, OpsEvents } from './types.js';

/** Options of {@link createOpsEvents}. */
export interface OpsEventsOptions {
  /** Told when a listener throws (the other listeners still get the event). @default ignore */
  readonly onListenerError?: (err: unknown) => void;
}

/**
 * An in-memory publish/subscribe of {@link OpsEvent}s: the daemon publishes, each open event stream of the admin API
 * listens. Publishing is synchronous and never throws: a listener that throws is isolated, so a broken stream cannot
 * break the pipeline that recorded the event.
 */
export function createOpsEvents(options: OpsEventsOptions = {}): OpsEvents {
  const listeners = new Set<(event: OpsEvent) => void>();
  return {
    publish(event) {
      // A copy: a listener may unsubscribe (its stream closed) while the event is being delivered.
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (err) {
          options.onListenerError?.(err);
        }
      }
    },
    subscribe(listener) {
      // A wrapper per subscription: the same function subscribed twice is two subscriptions.
      const entry = (event: OpsEvent) => listener(event);
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
  } satisfies OpsEvents;
}
