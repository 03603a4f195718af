/**
 * The timings of leader election (pure). Each instance ties its Consul session to a TTL check of its own, and every
 * keep-alive tick passes that check and renews the session; a renewal that fails, says the session is gone, or is
 * not answered within a tick ends the leadership. So a leader notices that its session ended within
 * {@link lossNoticeMs}: the renewal after the end is sent at most a tick after the last good one was answered, and
 * either answers or times out a tick later; the last good answer itself may have taken a tick on its way back.
 * Another instance may take the lock only a lock delay after the session ended, hence {@link haTimingProblem}.
 */

/** Milliseconds between two keep-alive ticks (check pass and session renewal): a third of the check TTL. */
export function keepAliveMs(checkTtlS: number): number {
  return Math.round((checkTtlS * 1000) / 3);
}

/** Longest time a leader takes to notice that its session ended, however it ended: three ticks, the check TTL. */
export function lossNoticeMs(checkTtlS: number): number {
  return 3 * keepAliveMs(checkTtlS);
}

/** The settings {@link haTimingProblem} checks (`--check-ttl`, `--lock-delay`). */
export interface HaTimings {
  readonly checkTtlS: number;
  readonly lockDelayS: number;
}

/**
 * Why these settings could let two leaders overlap, or `undefined` when they cannot: the old leader must have
 * stopped (noticed its loss, within the check TTL) strictly before another instance may take the lock (the lock
 * delay after the session ended). The difference is the margin for a paused process or a slow clock.
 */
export function haTimingProblem({ checkTtlS, lockDelayS }: HaTimings): string | undefined {
  if (lossNoticeMs(checkTtlS) < lockDelayS * 1000) return undefined;
  return (
    `${checkTtlS} s is not shorter than --lock-delay ${lockDelayS} s: a leader may take up to the check TTL to notice ` +
    'that its session ended, and another instance may take the lock once the lock delay has passed, so two leaders ' +
    'could overlap; raise --lock-delay or lower --check-ttl'
  );
}
