import { pino, type Logger } from 'pino';
import type { WantedCert } from '../../../src/plan/types.js';
import { IssuanceQueue } from '../../../src/queue/queue.js';
import type { JobContext, JobRunner, QueueEvent, QueueOptions } from '../../../src/queue/types.js';
import type { Timers } from '../../../src/time.js';

/** 2025-01-01T00:00:00Z: a fixed start so dates in assertions are readable. */
export const T0 = Date.UTC(2025, 0, 1);

/** Fake timers plus a clock that only moves when a test says so. */
export interface FakeClock extends Timers {
  now(): number;
  /** Delays (from now) of the timers still scheduled, ascending. */
  scheduled(): number[];
  /** Moves the clock forward, firing due timers in order and letting promises settle after each. */
  advance(ms: number): Promise<void>;
}

/** Lets every queued promise callback run (a macrotask turn, no wall-clock wait). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A {@link FakeClock} starting at {@link T0}. */
export function fakeClock(): FakeClock {
  let now = T0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    scheduled: () => [...timers.values()].map((t) => t.at - now).sort((a, b) => a - b),
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await settle();
      }
      now = target;
      await settle();
    },
  };
}

/** One call of a {@link controlledRunner}'s job, finished by the test. */
export interface Call {
  readonly cert: WantedCert;
  readonly ctx: JobContext;
  resolve(): void;
  reject(err: unknown): void;
}

/** A job runner whose calls stay open until the test resolves or rejects them. */
export function controlledRunner(): { run: JobRunner; calls: Call[] } {
  const calls: Call[] = [];
  const run: JobRunner = (cert, ctx) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ cert, ctx, resolve, reject });
    });
  return { run, calls };
}

/** A single-host certificate for `id`, covering `names` (default: just `id`). */
export function cert(id: string, names: string[] = [id]): WantedCert {
  return { id, kind: 'single', zone: 'example.com', names, services: ['svc'] };
}

/** Collects queue events. */
export function eventLog(): { events: QueueEvent[]; onEvent: (e: QueueEvent) => void; of: (type: QueueEvent['type']) => QueueEvent[] } {
  const events: QueueEvent[] = [];
  return { events, onEvent: (e) => void events.push(e), of: (type) => events.filter((e) => e.type === type) };
}

/** A logger that keeps its JSON lines for assertions. */
export function capturedLogger(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void raw.push(s) });
  return { log, lines: () => raw.map((s) => JSON.parse(s) as Record<string, unknown>) };
}

/** A queue on fake timers, a controlled runner and an event log; retries without jitter (random 0.5) unless overridden. */
export function queueHarness(options: Partial<QueueOptions> = {}) {
  const clock = fakeClock();
  const { run, calls } = controlledRunner();
  const events = eventLog();
  const logger = capturedLogger();
  const queue = new IssuanceQueue({
    run,
    timers: clock,
    now: clock.now,
    retry: { random: () => 0.5 },
    log: logger.log,
    onEvent: events.onEvent,
    ...options,
  });
  return { queue, clock, calls, events, logLines: logger.lines };
}
