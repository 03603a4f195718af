import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { backoffDelay, type Sleep } from '../time.js';
import { openSession, type HaConsul, type HeldSession } from './session.js';
import { createInstanceCheck, instanceCheckId } from './check.js';

/** Options of {@link runLeaderLoop}. */
export interface LeaderLoopOptions {
  readonly api: HaConsul;
  /** The lock key. @default 'whisper/leader' */
  readonly key?: string;
  /** Session TTL, seconds. @default 15 */
  readonly ttlS?: number;
  /** Lock delay, seconds; longer than the check TTL (see `timing.ts`). @default 5 */
  readonly lockDelayS?: number;
  /** TTL of this instance's health check, seconds; sessions are tied to it. @default 3 */
  readonly checkTtlS?: number;
  /** Longest wait of one blocking query on the lock key. @default '5m' */
  readonly wait?: string;
  readonly sleep: Sleep;
  readonly log: Logger;
  /** Runs while this instance holds the lock; `signal` aborts the moment leadership may be lost. */
  lead(signal: AbortSignal): Promise<void>;
  /** Runs while this instance waits for the lock (e.g. copies certificates from KV). */
  follow?(signal: AbortSignal): Promise<void>;
}

/** Something to abort and await. */
interface Running {
  stop(): Promise<void>;
}

function start(run: ((signal: AbortSignal) => Promise<void>) | undefined, parent: AbortSignal, log: Logger, what: string): Running {
  const ctl = new AbortController();
  const onParent = () => ctl.abort();
  parent.addEventListener('abort', onParent, { once: true });
  const done = (run?.(ctl.signal) ?? Promise.resolve()).catch((err: unknown) => {
    if (!ctl.signal.aborted) log.error({ err: errorMessage(err) }, `${what} stopped`);
  });
  return {
    async stop() {
      parent.removeEventListener('abort', onParent);
      ctl.abort();
      await done;
    },
  };
}

/**
 * Leader election on a Consul lock: each instance holds a session, tied to a TTL check of its own that it passes,
 * and tries to acquire `key`; the holder runs `lead`, the others run `follow` and wait on the key with a blocking
 * query. A leader whose session or lock goes away has its `lead` signal aborted at once, then waits again with a
 * fresh session. Resolves once `signal` aborts; rejects when `lead` fails on its own (after releasing the lock).
 * Either way the check is deregistered.
 */
export async function runLeaderLoop(options: LeaderLoopOptions, signal: AbortSignal): Promise<void> {
  const { api, log, sleep } = options;
  const key = options.key ?? 'whisper/leader';
  const value = JSON.stringify({ host: hostname(), pid: process.pid });
  const wait = options.wait ?? '5m';
  const check = createInstanceCheck({
    api,
    id: instanceCheckId(hostname(), process.pid, randomBytes(3).toString('hex')),
    lockKey: key,
    log,
    ...(options.checkTtlS ? { ttlS: options.checkTtlS } : {}),
  });

  /** Whether the key has no holder now; waits (blocking) while someone holds it. */
  async function waitFree(session: HeldSession): Promise<boolean> {
    let index = 0;
    for (let first = true; ; first = false) {
      const read = await api.kvRead(key, { index, wait, signal: session.lost });
      if (!read.item?.session) return first;
      // An index going backwards (a Consul restart) starts over, as Consul's docs say.
      index = read.index < index ? 0 : read.index;
    }
  }

  /** Aborts `ctl` once the lock key no longer names `session`. */
  async function watchLock(session: HeldSession, lose: (why: string) => void, until: AbortSignal): Promise<void> {
    let index = 0;
    while (!until.aborted) {
      try {
        const read = await api.kvRead(key, { index, wait, signal: until });
        if (read.item?.session !== session.id) return lose(read.item?.session ? 'the lock key names another session' : 'the lock was released');
        index = read.index < index ? 0 : read.index;
      } catch (err) {
        if (until.aborted) return;
        // Consul may come back as another agent, whose index is below ours: re-read without blocking.
        index = 0;
        log.warn({ key, err: errorMessage(err) }, 'cannot watch the lock key; retrying');
        await sleep(1000, until).catch(() => undefined);
      }
    }
  }

  async function term(session: HeldSession): Promise<void> {
    const ctl = new AbortController();
    const lose = (why: string) => {
      if (ctl.signal.aborted) return;
      if (!signal.aborted) log.warn({ key, session: session.id, why }, 'lost leadership: stopping the pipeline');
      ctl.abort();
    };
    const onLost = () => lose(signal.aborted ? 'stopping' : 'the Consul session was lost');
    session.lost.addEventListener('abort', onLost, { once: true });
    if (session.lost.aborted) onLost();
    log.info({ key, session: session.id }, 'acquired leadership');
    const watching = watchLock(session, lose, ctl.signal);
    try {
      await options.lead(ctl.signal);
    } catch (err) {
      if (!ctl.signal.aborted) throw err;
    } finally {
      session.lost.removeEventListener('abort', onLost);
      ctl.abort();
      await watching;
      await api.kvRelease(key, session.id, AbortSignal.timeout(5000)).catch(() => undefined);
    }
  }

  async function hold(session: HeldSession): Promise<void> {
    let follower = start(options.follow, session.lost, log, 'follower');
    try {
      while (!session.lost.aborted) {
        let acquired = false;
        try {
          acquired = await api.kvAcquire(key, value, session.id, session.lost);
          if (!acquired) {
            log.debug({ key }, 'another instance leads; waiting for the lock');
            // Free at once but not acquired: Consul's lock delay after the last holder's session ended.
            if (await waitFree(session)) await sleep(1000, session.lost);
            continue;
          }
        } catch (err) {
          if (session.lost.aborted) return;
          log.warn({ key, err: errorMessage(err) }, 'cannot take the lock; retrying');
          await sleep(1000, session.lost).catch(() => undefined);
          continue;
        }
        await follower.stop();
        try {
          await term(session);
        } finally {
          follower = start(undefined, session.lost, log, 'follower');
        }
        return;
      }
    } finally {
      await follower.stop();
    }
  }

  const sessionOptions = {
    api,
    name: `whisper-ts ${hostname()} ${process.pid}`,
    check,
    sleep,
    log,
    ...(options.ttlS ? { ttlS: options.ttlS } : {}),
    ...(options.lockDelayS !== undefined ? { lockDelayS: options.lockDelayS } : {}),
    ...(options.checkTtlS ? { checkTtlS: options.checkTtlS } : {}),
  };
  try {
    for (let attempt = 1; !signal.aborted; ) {
      let session: HeldSession;
      try {
        session = await openSession(sessionOptions, signal);
        attempt = 1;
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoffDelay(attempt++, { baseMs: 1000, maxMs: 30_000 });
        log.warn({ code: isWhisperError(err) ? err.code : undefined, retryInMs: delay }, `cannot create a Consul session: ${errorMessage(err)}`);
        await sleep(delay, signal).catch(() => undefined);
        continue;
      }
      try {
        await hold(session);
      } finally {
        await session.close();
      }
    }
  } finally {
    await check.remove();
  }
}
