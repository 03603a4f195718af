import type { OpsBackend, OpsEvents } from '../ops/types.js';
import { createOpsEvents } from '../ops/events.js';

/**
 * What the admin API serves, created with the HTTP server before the daemon's parts exist (like the metrics). The
 * daemon attaches its backend once it runs the pipeline and detaches it when it stops (or loses leadership); the
 * API answers 503 in between. Events flow whether a backend is attached or not.
 */
export interface AdminHub {
  readonly events: OpsEvents;
  /** The backend attached now, if any. */
  backend(): OpsBackend | undefined;
  /** Sets (or, with `undefined`, removes) the backend; open dashboards are told to re-read everything. */
  attach(backend: OpsBackend | undefined): void;
}

/** Creates an {@link AdminHub} with no backend attached. */
export function createAdminHub(events: OpsEvents = createOpsEvents()): AdminHub {
  let current: OpsBackend | undefined;
  return {
    events,
    backend: () => current,
    attach(backend) {
      current = backend;
      for (const what of ['certificates', 'queue', 'limits', 'account'] as const) events.publish({ type: 'changed', what });
    },
  } satisfies AdminHub;
}
