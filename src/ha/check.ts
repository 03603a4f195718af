import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';

/** The service name each instance registers with its Consul agent under `--ha`. */
export const INSTANCE_SERVICE = 'whisper-ts';

/**
 * How long the agent keeps an instance whose check is critical (a killed instance) before removing it. Consul's
 * minimum; its reaper runs every 30 s.
 */
export const DEREGISTER_AFTER = '1m';

/** The id of an instance's service and check: host and pid, plus `suffix` (random), as containers all run pid 1. */
export function instanceCheckId(host: string, pid: number, suffix: string): string {
  return `whisper-ts-${host.replace(/[^A-Za-z0-9.-]+/g, '-')}-${pid}-${suffix}`;
}

/** Options of {@link createInstanceCheck}. */
export interface InstanceCheckOptions {
  readonly api: Required<Pick<ConsulApi, 'agentServiceRegister' | 'agentCheckPass' | 'agentServiceDeregister'>>;
  /** See {@link instanceCheckId}. */
  readonly id: string;
  /** Seconds after the last pass at which the check turns critical (and the session tied to it ends). @default 3 */
  readonly ttlS?: number;
  /** The lock key, shown in the check's name and the service's metadata. */
  readonly lockKey: string;
  readonly log: Logger;
}

/**
 * The TTL check of this instance that its Consul sessions are tied to: when the process dies, nobody passes it, it
 * turns critical after its TTL, and Consul ends the session at once (instead of up to twice the session TTL later).
 */
export interface InstanceCheck {
  readonly id: string;
  /**
   * Registers the service and its check (again: the agent may have restarted and forgotten it, or reaped it), then
   * passes the check, since a re-registration keeps a critical status and Consul refuses a session on a critical check.
   */
  ensure(signal: AbortSignal): Promise<void>;
  /** Passes the check for another TTL. */
  pass(signal: AbortSignal): Promise<void>;
  /** Deregisters the service and its check (best effort; a killed instance's is removed after {@link DEREGISTER_AFTER}). */
  remove(): Promise<void>;
}

/** The {@link InstanceCheck} `id` on the agent `api` talks to. */
export function createInstanceCheck(options: InstanceCheckOptions): InstanceCheck {
  const { api, id, lockKey, log } = options;
  const ttlS = options.ttlS ?? 3;
  return {
    id,
    async ensure(signal) {
      await api.agentServiceRegister(
        { id, name: INSTANCE_SERVICE, meta: { lock_key: lockKey }, checkName: `whisper-ts leader election (${lockKey})`, ttl: `${ttlS}s`, deregisterAfter: DEREGISTER_AFTER },
        signal,
      );
      await api.agentCheckPass(id, signal);
    },
    pass: (signal) => api.agentCheckPass(id, signal),
    async remove() {
      try {
        await api.agentServiceDeregister(id, AbortSignal.timeout(5000));
        log.debug({ check: id }, 'instance check deregistered');
      } catch (err) {
        log.warn({ check: id, err: errorMessage(err) }, `instance check not deregistered (Consul removes it ${DEREGISTER_AFTER} after it turns critical)`);
      }
    },
  } satisfies InstanceCheck;
}
