import type { ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { WantedCert } from '../plan/types.js';
import type { BackoffOptions, Timers } from '../time.js';

/** What one run of a job gets besides its certificate. */
export interface JobContext {
  /** Aborted when the queue stops; the job must then give up and clean up. */
  readonly signal: AbortSignal;
  /** 1-based: 1 for a fresh job, 2 for its first retry, and so on. */
  readonly attempt: number;
  /** Why the job was queued (`start`, `added`, `names changed`, `sweep`, …), for logs. */
  readonly reason: string;
}

/** The work the queue runs for one certificate. Throwing means "try again later". */
export type JobRunner = (cert: WantedCert, ctx: JobContext) => Promise<void>;

/** What happened to a job, for metrics and tests. */
export type QueueEventType = 'queued' | 'started' | 'succeeded' | 'failed' | 'deferred' | 'dropped';

/**
 * One observation of the queue. `queued`: a new job, or a re-run of a running one (merges into a waiting job are
 * silent); `deferred`: held by `notBefore` or `defer()`; `failed`: an attempt threw (`delayMs` until the retry);
 * `dropped`: removed, or discarded by `stop()`.
 */
export interface QueueEvent {
  readonly type: QueueEventType;
  /** The certificate id. */
  readonly id: string;
  /** The attempt the event is about (the one that started, ended, or will run next). */
  readonly attempt: number;
  /** Why the job was queued (`queued`, `started`). */
  readonly reason?: string;
  /** `failed`: milliseconds until the retry (absent when the job will not be retried); `deferred`: until it runs. */
  readonly delayMs?: number;
  /** `failed`: the error's code (`INTERNAL` for an error that is not a WhisperError). */
  readonly code?: ErrorCode;
}

/** Options of the {@link IssuanceQueue}. */
export interface QueueOptions {
  /** The work: obtain (or confirm) one certificate. */
  readonly run: JobRunner;
  /** Jobs that run at once. @default 128 (a job mostly waits: on DNS changes, on the CA's validation) */
  readonly concurrency?: number;
  /** Where retries and deferrals are scheduled. @default systemTimers */
  readonly timers?: Timers;
  /** The clock. @default Date.now */
  readonly now?: () => number;
  /** Delays between attempts; merged over the default. @default { baseMs: 30_000, maxMs: 3_600_000, factor: 2, jitter: 0.2 } */
  readonly retry?: BackoffOptions;
  /** @default a silent logger */
  readonly log?: Logger;
  /** Called synchronously on every {@link QueueEvent}; must not throw (a throw is logged and ignored). */
  readonly onEvent?: (event: QueueEvent) => void;
}

/** Options of {@link IssuanceQueue.enqueue}. */
export interface EnqueueOptions {
  /** Do not run the job before this moment (applies to a job that is not queued yet, or to its next run). */
  readonly notBefore?: Date;
  /**
   * An operator asked for it: a job waiting for its retry (after a failure, or held by {@link IssuanceQueue.defer}) is
   * due now, its attempts reset. @default false
   */
  readonly urgent?: boolean;
}

/** The last failure of a job, for `status`. */
export interface JobError {
  readonly code: ErrorCode;
  /** The error's message (by project rule free of secrets). */
  readonly message: string;
  readonly at: Date;
}

/** One job as `status` shows it. */
export interface QueueEntry {
  readonly id: string;
  readonly state: 'pending' | 'running' | 'deferred';
  /** The attempt running now (`running`) or the next one. */
  readonly attempt: number;
  /** Why the job was queued. */
  readonly reason: string;
  /** The names of the certificate the job is for. */
  readonly names: readonly string[];
  /** When a deferred job becomes due. */
  readonly nextAt?: Date;
  readonly lastError?: JobError;
}
