import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import type { Sleep } from '../time.js';

/** The Consul calls high availability needs; {@link haConsul} checks a {@link ConsulApi} has them. */
export type HaConsul = Required<Pick<ConsulApi, 'sessionCreate' | 'sessionRenew' | 'sessionDestroy' | 'kvAcquire' | 'kvRelease' | 'kvRead'>> &
  Pick<ConsulApi, 'kvList'>;

/** The {@link ConsulApi} as a {@link HaConsul}; throws `CONFIG_INVALID` when it lacks session or lock calls. */
export function haConsul(api: ConsulApi): HaConsul {
  const { sessionCreate, sessionRenew, sessionDestroy, kvAcquire, kvRelease, kvRead } = api;
  if (!sessionCreate || !sessionRenew || !sessionDestroy || !kvAcquire || !kvRelease || !kvRead) {
    throw new WhisperError('CONFIG_INVALID', '--ha: this Consul client has no session or lock support');
  }
  return api as HaConsul;
}

/** Options of {@link openSession}. */
export interface SessionOptions {
  readonly api: HaConsul;
  /** Session name shown in Consul's UI. */
  readonly name: string;
  /** Session TTL in seconds (Consul's minimum is 10). @default 15 */
  readonly ttlS?: number;
  /** Lock delay in seconds. @default 5 */
  readonly lockDelayS?: number;
  readonly sleep: Sleep;
  readonly log: Logger;
}

/** A live Consul session, renewed every TTL/2 until {@link HeldSession.close}. */
export interface HeldSession {
  readonly id: string;
  /** Aborts as soon as the session may be gone: a renewal failed, Consul forgot it, or it was closed. */
  readonly lost: AbortSignal;
  /** Marks the session lost, stops renewing it and destroys it in Consul (best effort). */
  close(): Promise<void>;
}

/**
 * Creates a session (behavior `release`: its locks are freed when it ends) and renews it every TTL/2. Any failed
 * renewal counts as a loss: a leader must stop before Consul could hand its lock to someone else.
 */
export async function openSession(options: SessionOptions, signal: AbortSignal): Promise<HeldSession> {
  const { api, log, sleep } = options;
  const ttlS = options.ttlS ?? 15;
  const id = await api.sessionCreate({ name: options.name, ttl: `${ttlS}s`, lockDelay: `${options.lockDelayS ?? 5}s`, behavior: 'release' }, signal);
  const ctl = new AbortController();
  const onOuter = () => ctl.abort(signal.reason);
  signal.addEventListener('abort', onOuter, { once: true });
  log.debug({ session: id, ttlS }, 'Consul session created');

  const renewing = (async () => {
    while (!ctl.signal.aborted) {
      try {
        await sleep((ttlS * 1000) / 2, ctl.signal);
      } catch {
        return;
      }
      try {
        if (await api.sessionRenew(id, ctl.signal)) continue;
        log.warn({ session: id }, 'Consul session invalidated');
      } catch (err) {
        if (ctl.signal.aborted) return;
        log.warn({ session: id, err: errorMessage(err) }, 'Consul session renewal failed');
      }
      ctl.abort(new WhisperError('CONSUL_UNAVAILABLE', `Consul session ${id} lost`));
    }
  })();

  return {
    id,
    lost: ctl.signal,
    async close() {
      signal.removeEventListener('abort', onOuter);
      ctl.abort(new WhisperError('ABORTED', `Consul session ${id} closed`));
      await renewing;
      try {
        await api.sessionDestroy(id, AbortSignal.timeout(5000));
      } catch (err) {
        log.debug({ session: id, err: errorMessage(err) }, 'Consul session not destroyed (it expires with its TTL)');
      }
    },
  };
}
