import type { DnsProvider, TxtRecord } from '../dns/provider.js';
import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { heldTimers, type Timers } from '../time.js';
import type { ChallengeJournal } from './journal.js';

/** Removes the challenge records of finished orders, and forgets them in the journal once removed. */
export interface ChallengeCleanup {
  /**
   * Removes the records of one order (whatever became of the order), then forgets them in the journal. Never
   * rejects: a failure is logged and the records stay journaled, for the next start. Resolves once they are
   * removed, or at once when the clean-up runs in the background.
   */
  remove(certId: string, records: readonly TxtRecord[]): Promise<void>;
  /**
   * Waits for the clean-ups still running, at most `timeoutMs`, then aborts those left (their records stay
   * journaled). For a stop. @default timeoutMs 8000
   */
  flush(timeoutMs?: number): Promise<void>;
  /** The journal it forgets records in: an order whose records this removes journals them there first. */
  readonly journal?: ChallengeJournal;
}

/** Options of {@link createChallengeCleanup}. */
export interface ChallengeCleanupOptions {
  readonly dns: DnsProvider;
  /** @default none */
  readonly journal?: ChallengeJournal;
  readonly log: Logger;
  /** Give up on one clean-up after this long (it does not follow the order's signal: an aborted order cleans up too). @default 120000 */
  readonly timeoutMs?: number;
  /**
   * Let the order go on at once and remove its records in the background (a daemon: the order's queue slot is
   * free for the next one, and the records of a burst go out in one change; see `dns/batch.ts`). @default false
   */
  readonly background?: boolean;
  /** @default the process's timers, kept referenced (a flush at stop must end by itself) */
  readonly timers?: Timers;
}

/** Default bound of {@link ChallengeCleanup.flush}: below the 10 s a container engine waits before SIGKILL. */
const FLUSH_TIMEOUT_MS = 8000;

/** The clean-up of challenge records: awaited by the order, or in the background until {@link ChallengeCleanup.flush}. */
export function createChallengeCleanup(options: ChallengeCleanupOptions): ChallengeCleanup {
  const { dns, journal, log } = options;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const timers = options.timers ?? heldTimers;
  const running = new Set<Promise<void>>();
  // Aborted by a flush that ran out of time; replaced by the next flush.
  let stopping = new AbortController();

  async function run(certId: string, records: readonly TxtRecord[]): Promise<void> {
    const deadline = new AbortController();
    const timer = timers.setTimeout(
      () => deadline.abort(new WhisperError('ABORTED', `removing the challenge records took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      await dns.cleanUp(records, AbortSignal.any([deadline.signal, stopping.signal]));
    } catch (err) {
      // They stay in the journal: the next start removes them.
      log.warn({ certId, provider: dns.name, err: errorMessage(err) }, 'could not remove ACME challenge TXT records');
      return;
    } finally {
      timers.clearTimeout(timer);
    }
    try {
      await journal?.remove(records);
    } catch (err) {
      log.warn({ certId, err: errorMessage(err) }, 'could not update the challenge journal');
    }
  }

  return {
    ...(journal ? { journal } : {}),
    remove(certId, records) {
      log.debug({ certId, step: 'dns.cleanUp', records: records.map((r) => r.fqdn) }, 'ACME step');
      const removal = run(certId, records);
      running.add(removal);
      void removal.finally(() => running.delete(removal));
      return options.background ? Promise.resolve() : removal;
    },

    async flush(flushTimeoutMs = FLUSH_TIMEOUT_MS) {
      if (running.size === 0) return;
      log.info({ count: running.size }, 'waiting for the challenge record clean-ups');
      const stop = stopping;
      const timer = timers.setTimeout(() => {
        log.warn({ count: running.size, timeoutMs: flushTimeoutMs }, 'challenge record clean-ups still running; they stay journaled for the next start');
        stop.abort(new WhisperError('ABORTED', 'stopping'));
      }, flushTimeoutMs);
      try {
        while (running.size > 0) await Promise.all([...running]);
      } finally {
        timers.clearTimeout(timer);
        if (stop.signal.aborted) stopping = new AbortController();
      }
    },
  } satisfies ChallengeCleanup;
}
