import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import type { Sleep } from '../time.js';
import type { InstanceCheck } from './check.js';
import { keepAliveMs } from './timing.js';

const HA_CALLS = ['agentServiceRegister', 'agentCheckPass', 'agentServiceDeregister', 'sessionCreate', 'sessionRenew', 'sessionDestroy', 'kvAcquire', 'kvRelease', 'kvRead'] as const;

/** The Consul calls high availability needs; {@link haConsul} checks a {@link ConsulApi} has them. */
export type HaConsul = Required<Pick<ConsulApi, (typeof HA_CALLS)[number]>> & Pick<ConsulApi, 'kvList'>;

/** The {@link ConsulApi} as a {@link HaConsul}; throws `CONFIG_INVALID` when it lacks check, session or lock calls. */
export function haConsul(api: ConsulApi): HaConsul {
  if (HA_CALLS.some((call) => typeof api[call] !== 'function')) {
    throw new WhisperError('CONFIG_INVALID', '--ha: this Consul client has no check, session or lock support');
  }
  return api as HaConsul;
}

/** Options of {@link openSession}. */
export interface SessionOptions {
  readonly api: HaConsul;
  /** Session name shown in Consul's UI. */
  readonly name: string;
  /** Session TTL in seconds (Consul's minimum is 10): a backstop, as the session is renewed on every tick. @default 15 */
  readonly ttlS?: number;
  /** Lock delay in seconds. @default 5 */
  readonly lockDelayS?: number;
  /** This instance's health check; the session is tied to it and to the node's `serfHealth`. */
  readonly check: InstanceCheck;
  /** The check's TTL in seconds: the keep-alive ticks every third of it (see `timing.ts`). @default 3 */
  readonly checkTtlS?: number;
  readonly sleep: Sleep;
  readonly log: Logger;
}

/** A live Consul session, kept alive until {@link HeldSession.close}. */
export interface HeldSession {
  readonly id: string;
  /** Aborts as soon as the session may be gone: a renewal failed or went unanswered, Consul forgot it, or it was closed. */
  readonly lost: AbortSignal;
  /** Marks the session lost, stops the keep-alive and destroys the session in Consul (best effort). */
  close(): Promise<void>;
}

/** A signal that aborts with `parent`, or `ms` after now (on the injected `sleep`); `done` stops its timer. */
function deadline(sleep: Sleep, ms: number, parent: AbortSignal): { signal: AbortSignal; expired: () => boolean; done: () => void } {
  // Listeners rather than AbortSignal.any: this runs every tick for as long as the session lives.
  const ctl = new AbortController();
  const timer = new AbortController();
  let expired = false;
  const onParent = () => ctl.abort(parent.reason);
  parent.addEventListener('abort', onParent, { once: true });
  sleep(ms, timer.signal).then(
    () => {
      expired = true;
      ctl.abort(new WhisperError('CONSUL_UNAVAILABLE', `no answer within ${ms} ms`));
    },
    () => undefined,
  );
  return {
    signal: ctl.signal,
    expired: () => expired,
    done: () => {
      timer.abort();
      parent.removeEventListener('abort', onParent);
    },
  };
}

/**
 * Registers (again) and passes the instance's check, then creates a session (behavior `release`: its locks are freed
 * when it ends) tied to `serfHealth` and that check: Consul ends it as soon as the check turns critical, a TTL after
 * the last pass. Every tick (a third of the check TTL) the check is passed and the session renewed, both bounded by a
 * tick. A renewal that fails, finds the session gone or is not answered in time counts as a loss, so a leader stops
 * within the check TTL of its session's end (see `timing.ts`); a failed pass alone does not (the renewal tells).
 */
export async function openSession(options: SessionOptions, signal: AbortSignal): Promise<HeldSession> {
  const { api, log, sleep, check } = options;
  const ttlS = options.ttlS ?? 15;
  const tickMs = keepAliveMs(options.checkTtlS ?? 3);
  await check.ensure(signal);
  const spec = { name: options.name, ttl: `${ttlS}s`, lockDelay: `${options.lockDelayS ?? 5}s`, behavior: 'release' as const, checks: ['serfHealth', check.id] };
  const id = await api.sessionCreate(spec, signal);
  const ctl = new AbortController();
  const onOuter = () => ctl.abort(signal.reason);
  signal.addEventListener('abort', onOuter, { once: true });
  log.debug({ session: id, ttlS, check: check.id, tickMs }, 'Consul session created');

  const lose = (why: string, err?: unknown) => {
    log.warn({ session: id, ...(err === undefined ? {} : { err: errorMessage(err) }) }, why);
    ctl.abort(new WhisperError('CONSUL_UNAVAILABLE', `Consul session ${id} lost: ${why}`));
  };

  const keepingAlive = (async () => {
    while (!ctl.signal.aborted) {
      try {
        await sleep(tickMs, ctl.signal);
      } catch {
        return;
      }
      const tick = deadline(sleep, tickMs, ctl.signal);
      const [renewed, passed] = await Promise.allSettled([api.sessionRenew(id, tick.signal), check.pass(tick.signal)]);
      const expired = tick.expired();
      tick.done();
      if (ctl.signal.aborted) return;
      if (passed.status === 'rejected') log.warn({ check: check.id, err: errorMessage(passed.reason) }, 'cannot pass the instance check; retrying on the next tick');
      if (renewed.status === 'fulfilled' && renewed.value) continue;
      if (renewed.status === 'fulfilled') lose('Consul session invalidated');
      else lose(expired ? `Consul session renewal not answered within ${tickMs} ms` : 'Consul session renewal failed', expired ? undefined : renewed.reason);
    }
  })();

  return {
    id,
    lost: ctl.signal,
    async close() {
      signal.removeEventListener('abort', onOuter);
      ctl.abort(new WhisperError('ABORTED', `Consul session ${id} closed`));
      await keepingAlive;
      try {
        await api.sessionDestroy(id, AbortSignal.timeout(5000));
      } catch (err) {
        log.debug({ session: id, err: errorMessage(err) }, 'Consul session not destroyed (its check or TTL ends it)');
      }
    },
  };
}
