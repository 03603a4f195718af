import { WhisperError } from '../../../src/errors.js';

interface Timer {
  readonly at: number;
  readonly resolve: () => void;
}

/** Lets every pending promise chain (and FakeRoute53's setImmediate hops) run. */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/**
 * A clock whose time moves only when the test says so: `sleep` waits until `advance` passes its moment, so
 * concurrent sleepers overlap as they would in real time (unlike fakeClock, whose sleeps add up).
 */
export function virtualClock(start = 1_000_000) {
  let t = start;
  const timers = new Set<Timer>();
  return {
    now: () => t,
    sleep: (ms: number, signal?: AbortSignal): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(new WhisperError('ABORTED', 'wait aborted'));
        const onAbort = () => {
          timers.delete(timer);
          reject(new WhisperError('ABORTED', 'wait aborted'));
        };
        const timer: Timer = {
          at: t + ms,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        timers.add(timer);
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    /** Moves time on by `ms`, firing each timer at its moment and letting what it wakes run before the next. */
    async advance(ms: number): Promise<void> {
      const end = t + ms;
      for (;;) {
        await settle();
        let next: Timer | undefined;
        for (const timer of timers) if (timer.at <= end && (!next || timer.at < next.at)) next = timer;
        if (!next) break;
        timers.delete(next);
        t = Math.max(t, next.at);
        next.resolve();
      }
      t = end;
      await settle();
    },
    /** Timers not yet fired. */
    pending: () => timers.size,
  };
}
