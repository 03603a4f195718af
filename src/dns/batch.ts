import { WhisperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { heldTimers, type Timers } from '../time.js';
import type { DnsChangeWait, DnsProvider, TxtRecord } from './provider.js';

/** Options of {@link batchDnsProvider}. */
export interface DnsBatchOptions {
  /**
   * How long the first record to present in an idle zone waits for the records of other orders before the call
   * goes out (records arriving while a call of that zone is in flight go out together as soon as it ends). The
   * orders of a burst reach their present over some hundreds of milliseconds (ACME round trips, CNAME lookups, the
   * journal write); an order alone pays this once. @default 250
   */
  windowMs?: number;
  /** The same for clean-ups, which nobody waits for: longer, so a burst's records go in one or two calls. @default 1000 */
  cleanUpWindowMs?: number;
  /**
   * The window of records arriving while a change of their zone is accepted but not yet live (a two-step provider:
   * Route53 PENDING, up to a minute): the orders of a burst that outgrows the queue's slots reach their present one
   * by one as slots free up, and a few more seconds of gathering is small beside the wait each change costs (and
   * each change is polled on its own). @default 2000
   */
  busyWindowMs?: number;
  /** The same for clean-ups. @default 5000 */
  cleanUpBusyWindowMs?: number;
  /**
   * The window of a present whose records are all DNS-PERSIST-01 records: each name's is written once, ever, so a
   * second of gathering costs nothing later, and the new names of a burst (whose orders reach their present after
   * a record check of varying length) share one change. @default 1000
   */
  persistWindowMs?: number;
  /** @default the process's timers, kept referenced (a window is short, and a stopping process must still send it) */
  timers?: Timers;
  /** The clock, in ms: how long the records gathered during a call have waited already. @default Date.now */
  now?: () => number;
  /** @default silent */
  log?: Logger;
}

type Mode = 'present' | 'cleanUp';

/** A call to the provider holding the records of one or more callers. */
interface Flight {
  readonly controller: AbortController;
  /** Callers still waiting for it: when the last one leaves, the call is aborted. */
  waiting: number;
  /** Resolves (never rejects) once the provider answered (a two-step provider: once the change is live). */
  settled: Promise<void>;
}

/** One caller's records of one batch key, queued for the next call or held by a call in flight. */
interface Part {
  readonly records: readonly TxtRecord[];
  /** When it was queued (ms). */
  readonly at: number;
  /** Ends the caller's wait (with an error, or none); later calls are ignored. */
  readonly settle: (err?: unknown) => void;
  done: boolean;
  flight?: Flight;
}

/** The calls of one mode for one batch key: at most one in flight, the next one gathering. */
interface Lane {
  readonly mode: Mode;
  readonly key: string;
  queued: Part[];
  timer?: unknown;
  flight?: Flight;
  /** Calls of this lane accepted and not yet live (two-step providers): the zone is busy. */
  settling: number;
}

/** Waits for `promise`, or rejects with `ABORTED` as soon as `signal` aborts. */
async function untilAborted(promise: Promise<unknown>, signal: AbortSignal | undefined, what: string): Promise<void> {
  if (!signal) {
    await promise;
    return;
  }
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new WhisperError('ABORTED', `${what}: aborted`, { cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

const recordKey = (r: TxtRecord): string => `${r.fqdn}\u0000${r.value}`;

/** The records of `parts`, each once, in order of arrival. */
function mergeRecords(parts: readonly { readonly records: readonly TxtRecord[] }[]): TxtRecord[] {
  const seen = new Map<string, TxtRecord>();
  for (const part of parts) for (const r of part.records) if (!seen.has(recordKey(r))) seen.set(recordKey(r), r);
  return [...seen.values()];
}

/**
 * A {@link DnsProvider} that coalesces the calls of concurrent orders: the records every caller presents (or
 * cleans up) under the same {@link DnsProvider.batchKey} (a zone) within `windowMs`, or while a call of that zone
 * is in flight, go into ONE call of `inner`, waited on once. Each caller resolves when the calls holding its own
 * records resolved (per zone, not across zones) and fails only with them; a caller whose signal aborts leaves at
 * once, and a call all of whose callers left is aborted. With a two-step provider ({@link DnsProvider.submit}) the
 * zone's next call goes out as soon as the previous one was accepted, not once it is live: a burst that outgrows
 * one change pays the back end's wait (Route53: up to a minute) about once, not once per change. A clean-up of a record waits for a present of it still in
 * flight, so it is never overtaken. A provider without `batchKey` (exec) is returned as it is: one call per order.
 */
export function batchDnsProvider(inner: DnsProvider, options: DnsBatchOptions = {}): DnsProvider {
  const batchKey = inner.batchKey?.bind(inner);
  if (!batchKey) return inner;
  const windowMs = { present: options.windowMs ?? 250, cleanUp: options.cleanUpWindowMs ?? 1000 };
  const busyWindowMs = { present: options.busyWindowMs ?? 2000, cleanUp: options.cleanUpBusyWindowMs ?? 5000 };
  /** How long the records of `lane` gather before its next call. */
  const persistWindowMs = options.persistWindowMs ?? 1000;
  const onlyPersistent = (lane: Lane): boolean =>
    lane.mode === 'present' && lane.queued.length > 0 && lane.queued.every((p) => p.records.every((r) => r.persistent === true));
  const windowOf = (lane: Lane): number =>
    Math.max(windowMs[lane.mode], lane.settling > 0 ? busyWindowMs[lane.mode] : 0, onlyPersistent(lane) ? persistWindowMs : 0);
  const timers = options.timers ?? heldTimers;
  const now = options.now ?? Date.now;
  const log = options.log ?? silentLogger();
  const lanes = new Map<string, Lane>();
  /** Record key → the present call holding it, while in flight. */
  const presenting = new Map<string, Flight>();
  /** Every call not yet settled, accepted ones included: `close` waits for them. */
  const live = new Set<Flight>();
  const stage = inner.submit?.bind(inner);
  let closing = false;

  function laneOf(mode: Mode, key: string): Lane {
    const id = `${mode}\u0000${key}`;
    let lane = lanes.get(id);
    if (!lane) {
      lane = { mode, key, queued: [], settling: 0 };
      lanes.set(id, lane);
    }
    return lane;
  }

  function dropIfIdle(lane: Lane): void {
    if (lane.queued.length === 0 && lane.flight === undefined && lane.timer === undefined && lane.settling === 0) {
      const id = `${lane.mode}\u0000${lane.key}`;
      if (lanes.get(id) === lane) lanes.delete(id);
    }
  }

  function schedule(lane: Lane): void {
    if (lane.flight !== undefined || lane.timer !== undefined) return;
    if (closing) {
      launch(lane);
      return;
    }
    lane.timer = timers.setTimeout(() => {
      lane.timer = undefined;
      launch(lane);
    }, windowOf(lane));
  }

  function launch(lane: Lane): void {
    const parts = lane.queued.filter((p) => !p.done);
    lane.queued = [];
    if (parts.length === 0) {
      dropIfIdle(lane);
      return;
    }
    const records = mergeRecords(parts);
    const controller = new AbortController();
    const flight: Flight = { controller, waiting: parts.length, settled: Promise.resolve() };
    for (const p of parts) p.flight = flight;
    lane.flight = flight;
    live.add(flight);
    if (lane.mode === 'present') for (const r of records) presenting.set(recordKey(r), flight);
    log.debug({ provider: inner.name, mode: lane.mode, batch: lane.key, callers: parts.length, records: records.length }, 'DNS batch sent');
    const submitted = (async (): Promise<DnsChangeWait | undefined> => {
      if (stage) return stage(lane.mode, records, controller.signal);
      await inner[lane.mode](records, controller.signal);
      return undefined;
    })();
    flight.settled = submitted
      .then(async (wait) => {
        if (!wait) {
          release(lane, flight);
          return;
        }
        // Accepted: the zone's next change may go out now, while this one becomes live.
        lane.settling += 1;
        release(lane, flight);
        try {
          await wait(controller.signal);
        } finally {
          lane.settling -= 1;
          dropIfIdle(lane);
        }
      })
      .then(
        () => finish(lane.mode, flight, parts, records, undefined),
        (err: unknown) => {
          release(lane, flight);
          finish(lane.mode, flight, parts, records, err ?? new WhisperError('DNS_PROVIDER', `${inner.name} ${lane.mode} failed`));
        },
      );
  }

  /**
   * The lane's call was accepted (or failed). What gathered meanwhile goes out once its oldest record has waited a
   * window: at once after a long call; after a short one (a Route53 change accepted in 100 ms), the orders still
   * arriving from the same burst join it rather than each sending a change of its own.
   */
  function release(lane: Lane, flight: Flight): void {
    if (lane.flight !== flight) return;
    lane.flight = undefined;
    const waiting = lane.queued.filter((p) => !p.done);
    if (waiting.length === 0) {
      lane.queued = [];
      dropIfIdle(lane);
      return;
    }
    const left = windowOf(lane) - (now() - Math.min(...waiting.map((p) => p.at)));
    if (left <= 0 || closing) {
      launch(lane);
      return;
    }
    lane.timer = timers.setTimeout(() => {
      lane.timer = undefined;
      launch(lane);
    }, left);
  }

  function finish(mode: Mode, flight: Flight, parts: readonly Part[], records: readonly TxtRecord[], err: unknown): void {
    for (const p of parts) p.settle(err);
    if (mode === 'present') {
      for (const r of records) if (presenting.get(recordKey(r)) === flight) presenting.delete(recordKey(r));
    }
    live.delete(flight);
  }

  function join(lane: Lane, records: readonly TxtRecord[], signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const flight = part.flight;
        part.settle(new WhisperError('ABORTED', `${inner.name} ${lane.mode}: aborted`, { cause: signal?.reason }));
        if (flight) {
          flight.waiting -= 1;
          if (flight.waiting === 0) flight.controller.abort(signal?.reason);
        } else {
          lane.queued = lane.queued.filter((p) => p !== part);
        }
      };
      const part: Part = {
        records,
        at: now(),
        done: false,
        settle: (err) => {
          if (part.done) return;
          part.done = true;
          signal?.removeEventListener('abort', onAbort);
          if (err === undefined) resolve();
          else reject(err);
        },
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.queued.push(part);
      schedule(lane);
    });
  }

  /** Record groups by batch key; each name is looked up once per call. */
  async function group(records: readonly TxtRecord[], signal: AbortSignal | undefined) {
    const names = [...new Set(records.map((r) => r.fqdn))];
    const looked = await Promise.allSettled(names.map((fqdn) => batchKey!(fqdn, signal)));
    const keyOf = new Map<string, string>();
    const errors: unknown[] = [];
    looked.forEach((result, i) => {
      if (result.status === 'fulfilled') keyOf.set(names[i]!, result.value);
      else errors.push(result.reason);
    });
    const groups = new Map<string, TxtRecord[]>();
    for (const r of records) {
      const key = keyOf.get(r.fqdn);
      if (key !== undefined) groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    return { groups, errors };
  }

  async function submit(mode: Mode, records: readonly TxtRecord[], signal: AbortSignal | undefined): Promise<void> {
    if (records.length === 0) return;
    if (signal?.aborted) throw new WhisperError('ABORTED', `${inner.name} ${mode}: aborted`, { cause: signal.reason });
    const { groups, errors } = await group(records, signal);
    // Nothing is published for a caller one of whose records has no zone; a clean-up still removes what it can.
    if (mode === 'present' && errors.length > 0) throw errors[0];
    if (mode === 'cleanUp') {
      const flights = new Set(records.flatMap((r) => presenting.get(recordKey(r)) ?? []));
      if (flights.size > 0) await untilAborted(Promise.all([...flights].map((f) => f.settled)), signal, `${inner.name} ${mode}`);
    }
    const results = await Promise.allSettled([...groups].map(([key, part]) => join(laneOf(mode, key), part, signal)));
    for (const r of results) if (r.status === 'rejected') errors.push(r.reason);
    if (errors.length > 0) throw errors[0];
  }

  return {
    name: inner.name,
    ...(inner.propagation ? { propagation: inner.propagation } : {}),
    ...(inner.nameservers ? { nameservers: inner.nameservers.bind(inner) } : {}),
    batchKey,
    present: (records, signal) => submit('present', records, signal),
    cleanUp: (records, signal) => submit('cleanUp', records, signal),
    /** Sends what is gathering at once (and from now on, all at once), waits for the calls in flight, then closes `inner`. */
    async close() {
      closing = true;
      for (const lane of [...lanes.values()]) {
        if (lane.timer === undefined) continue;
        timers.clearTimeout(lane.timer);
        lane.timer = undefined;
        launch(lane);
      }
      while (live.size > 0) await Promise.all([...live].map((f) => f.settled));
      await inner.close?.();
    },
  } satisfies DnsProvider;
}
