import { WhisperError } from '../errors.js';
import { route53Error, type Route53Api } from './route53-api.js';
import type { Sleep } from './propagation.js';
import { SharedTasks } from './shared-task.js';

/** Options of {@link waitForInsync}. */
export interface InsyncOptions {
  sleep: Sleep;
  /** The clock, in ms. */
  now: () => number;
  /** First delay before asking again; grows ×1.5 up to `maxPollIntervalMs`. */
  pollIntervalMs: number;
  /** @default 5000 */
  maxPollIntervalMs?: number;
  /** Give up (retryable `DNS_PROVIDER`) after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Polls GetChange until Route53 reports the change `INSYNC` (on all its name servers). The SDK's own
 * waiter starts at 30 s; a challenge wants seconds, so the interval starts short and grows.
 * `what` names the zone for messages.
 */
export async function waitForInsync(
  api: Route53Api,
  changeId: string,
  what: string,
  options: InsyncOptions,
): Promise<void> {
  const { sleep, now, signal } = options;
  const maxInterval = options.maxPollIntervalMs ?? 5000;
  const deadline = now() + options.timeoutMs;
  let interval = options.pollIntervalMs;
  for (;;) {
    const left = deadline - now();
    if (left <= 0) {
      throw new WhisperError(
        'DNS_PROVIDER',
        `Route53 change ${changeId} in ${what} not INSYNC after ${options.timeoutMs} ms`,
        { retryable: true },
      );
    }
    await sleep(Math.min(interval, left), signal);
    interval = Math.min(interval * 1.5, maxInterval);
    let status: string | undefined;
    try {
      status = (await api.getChange({ Id: changeId }, signal)).ChangeInfo?.Status;
    } catch (err) {
      throw route53Error(err, `Route53 GetChange ${changeId} in ${what}`);
    }
    if (status === 'INSYNC') return;
  }
}

/** Options of {@link createChangeWaiter}: those of {@link waitForInsync}, less the signal (each waiter has its own). */
export type ChangeWaiterOptions = Omit<InsyncOptions, 'signal'>;

/**
 * Waits until a change is INSYNC; `what` names the zone for messages. Every waiter of one change id shares one
 * GetChange poll loop ({@link waitForInsync}): each resolves or rejects with it; one waiter's abort rejects that
 * waiter alone, and the loop stops only when nobody waits any more.
 */
export type ChangeWaiter = (api: Route53Api, changeId: string, what: string, signal?: AbortSignal) => Promise<void>;

/**
 * A {@link ChangeWaiter}. A batch of orders that share one change makes one poll every interval, not one each:
 * GetChange counts against the account's request rate like any call.
 */
export function createChangeWaiter(options: ChangeWaiterOptions): ChangeWaiter {
  // Per client: a change id belongs to the account its client reaches.
  const loops = new WeakMap<Route53Api, SharedTasks<string, void>>();
  return (api, changeId, what, signal) => {
    let tasks = loops.get(api);
    if (!tasks) {
      tasks = new SharedTasks();
      loops.set(api, tasks);
    }
    return tasks.run(
      changeId,
      (loopSignal) => waitForInsync(api, changeId, what, { ...options, signal: loopSignal }),
      `wait for Route53 change ${changeId} in ${what}`,
      signal,
    );
  };
}
