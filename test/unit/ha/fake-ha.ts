import { WhisperError } from '../../../src/errors.js';
import type { Sleep } from '../../../src/time.js';
import type { InstanceService, SessionSpec } from '../../../src/consul/api.js';
import type { HaConsul } from '../../../src/ha/session.js';
import type { FakeTimers } from '../consul/fakes.js';

/** A {@link Sleep} on fake timers: it ends when `timers.advance` passes it, and rejects with `ABORTED` on abort. */
export function sleepOn(timers: FakeTimers): Sleep {
  return (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new WhisperError('ABORTED', 'aborted'));
      const onAbort = () => {
        timers.clearTimeout(handle);
        reject(new WhisperError('ABORTED', 'aborted'));
      };
      const handle = timers.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
}

/** A promise that settles only when `signal` aborts (a request Consul never answers). */
export function hang(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new WhisperError('ABORTED', 'aborted')), { once: true }));
}

/**
 * The session and agent calls of a {@link HaConsul}, recorded in `calls`; `renew` and `pass` say how the next
 * renewal and check pass answer. The lock calls are not used by a session and throw.
 */
export function fakeSessionConsul() {
  const calls: string[] = [];
  const services: InstanceService[] = [];
  const sessions: SessionSpec[] = [];
  const ctl = {
    renew: (_signal?: AbortSignal): Promise<boolean> => Promise.resolve(true),
    pass: (_signal?: AbortSignal): Promise<void> => Promise.resolve(),
    deregister: (): Promise<void> => Promise.resolve(),
  };
  const unused = () => Promise.reject(new Error('not used by a session'));
  const api: HaConsul = {
    async agentServiceRegister(service) {
      calls.push(`register ${service.id}`);
      services.push(service);
    },
    agentCheckPass(id, signal) {
      calls.push(`pass ${id}`);
      return ctl.pass(signal);
    },
    agentServiceDeregister(id) {
      calls.push(`deregister ${id}`);
      return ctl.deregister();
    },
    async sessionCreate(spec) {
      calls.push('create');
      sessions.push(spec);
      return `s${sessions.length}`;
    },
    sessionRenew(id, signal) {
      calls.push(`renew ${id}`);
      return ctl.renew(signal);
    },
    async sessionDestroy(id) {
      calls.push(`destroy ${id}`);
    },
    kvAcquire: unused,
    kvRelease: unused,
    kvRead: unused,
  };
  return { api, calls, services, sessions, ctl };
}
