import { describe, expect, it } from 'vitest';
import { WhisperError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { TargetRecord } from '../../src/state/types.js';
import type { StoredCert } from '../../src/store/types.js';
import type { BundleItem } from '../../src/targets/bundle.js';
import type { TargetJournal } from '../../src/targets/journal.js';
import { DeliveryManager, type DeliveryManagerOptions } from '../../src/targets/manager.js';
import type { DeliveryContext, DeliveryItem, RemovalItem, Target } from '../../src/targets/types.js';
import { fakeClock, settle, type FakeClock } from './queue/fakes.js';

function memoryJournal(): TargetJournal & { data: Map<string, Map<string, TargetRecord>> } {
  const data = new Map<string, Map<string, TargetRecord>>();
  return {
    data,
    get: (t, id) => data.get(t)?.get(id),
    set(t, id, r) {
      if (r === undefined) data.get(t)?.delete(id);
      else (data.get(t) ?? data.set(t, new Map()).get(t)!).set(id, r);
    },
    records: (t) => data.get(t) ?? new Map(),
    flush: () => Promise.resolve(),
  };
}

function item(id: string, serial: string): BundleItem {
  return { id, serial, names: [`${id}`], notBefore: new Date(0), notAfter: new Date(1e13), key: 'KEY', cert: 'CERT', chain: '', path: `/certs/${id}.pem` };
}

function stored(id: string, serial: string): StoredCert {
  return { id, serial, names: [id], notBefore: new Date(0), notAfter: new Date(1e13), issuer: 'CN=test', cert: 'CERT', path: `/certs/${id}.pem` };
}

interface Call {
  readonly item: DeliveryItem;
  readonly ctx: DeliveryContext;
  readonly signal: AbortSignal;
}

/** A target whose deliveries are answered by `answer` (default: success at once). */
function fakeTarget(name: string, answer: (call: Call) => Promise<void> = () => Promise.resolve(), extra: Partial<Target> = {}) {
  const calls: Call[] = [];
  const removals: RemovalItem[] = [];
  const target: Target = {
    name,
    async deliver(i, ctx, signal) {
      const call = { item: i, ctx, signal };
      calls.push(call);
      await answer(call);
      return { detail: `took ${i.serial}`, memo: { last: i.serial } };
    },
    async remove(r) {
      removals.push(r);
    },
    ...extra,
  };
  return { target, calls, removals };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function manager(targets: Target[], clock: FakeClock, journal: TargetJournal, extra: Partial<DeliveryManagerOptions> = {}): DeliveryManager {
  return new DeliveryManager({
    targets,
    journal: () => journal,
    log: silentLogger(),
    timers: clock,
    stopTimers: clock,
    now: clock.now,
    random: () => 0.5,
    retry: { baseMs: 1000, maxMs: 60_000 },
    ...extra,
  });
}

describe('DeliveryManager', () => {
  it('delivers, journals the serial and memo, and skips a serial already delivered', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const { target, calls } = fakeTarget('t1');
    const m = manager([target], clock, journal);
    m.delivered(item('a.example.com', 'AA'));
    await settle();
    expect(calls.map((c) => c.item.serial)).toEqual(['AA']);
    expect(calls[0]!.item.previousSerial).toBeUndefined();
    expect(journal.get('t1', 'a.example.com')).toMatchObject({ delivered: 'AA', attempts: 0, memo: { last: 'AA' } });
    m.delivered(item('a.example.com', 'AA'));
    await settle();
    expect(calls).toHaveLength(1);
    m.delivered(item('a.example.com', 'BB'));
    await settle();
    expect(calls.map((c) => [c.item.serial, c.item.previousSerial, c.ctx.memo])).toEqual([
      ['AA', undefined, {}],
      ['BB', 'AA', { last: 'AA' }],
    ]);
    await m.stop();
  });

  it('lets the newest serial win: one delivery at a time, a queued older serial is never delivered', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const first = deferred();
    const { target, calls } = fakeTarget('t1', (c) => (c.item.serial === 'AA' ? first.promise : Promise.resolve()));
    const m = manager([target], clock, journal);
    m.delivered(item('a', 'AA'));
    await settle();
    m.delivered(item('a', 'BB'));
    m.delivered(item('a', 'CC'));
    await settle();
    expect(calls.map((c) => c.item.serial)).toEqual(['AA']);
    expect(m.pending().get('t1')).toBe(1);
    first.resolve();
    await settle();
    await settle();
    expect(calls.map((c) => c.item.serial)).toEqual(['AA', 'CC']);
    expect(journal.get('t1', 'a')?.delivered).toBe('CC');
    expect(m.pending().get('t1')).toBe(0);
    await m.stop();
  });

  it('retries a failure with exponential backoff, journals the error, then succeeds', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    let failures = 2;
    const { target, calls } = fakeTarget('t1', () => (failures-- > 0 ? Promise.reject(new WhisperError('TARGET_HAPROXY', 'socket refused', { retryable: true })) : Promise.resolve()));
    const m = manager([target], clock, journal);
    m.delivered(item('a', 'AA'));
    await settle();
    expect(calls).toHaveLength(1);
    expect(clock.scheduled()).toEqual([1000]);
    expect(journal.get('t1', 'a')).toMatchObject({ attempts: 1, lastError: { code: 'TARGET_HAPROXY', message: 'socket refused' } });
    await clock.advance(1000);
    expect(calls).toHaveLength(2);
    expect(clock.scheduled()).toEqual([2000]);
    expect(journal.get('t1', 'a')?.attempts).toBe(2);
    await clock.advance(1999);
    expect(calls).toHaveLength(2);
    await clock.advance(1);
    expect(calls).toHaveLength(3);
    const record = journal.get('t1', 'a');
    expect(record).toMatchObject({ delivered: 'AA', attempts: 0 });
    expect(record?.lastError).toBeUndefined();
    expect(clock.scheduled()).toEqual([]);
    await m.stop();
  });

  it('waits for the destination\'s retryAfter, and retries a non-retryable failure at the longest delay', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const { target } = fakeTarget('t1', () => Promise.reject(new WhisperError('TARGET_AWS', 'throttled', { retryable: true, retryAfter: new Date(clock.now() + 30_000) })));
    const { target: denied } = fakeTarget('t2', () => Promise.reject(new WhisperError('TARGET_AWS', 'access denied')));
    const m = manager([target, denied], clock, journal);
    m.delivered(item('a', 'AA'));
    await settle();
    expect(clock.scheduled()).toEqual([30_000, 60_000]);
    await m.stop();
    expect(clock.scheduled()).toEqual([]);
  });

  it('a newer serial replaces a delivery waiting for its retry, and runs at once', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const { target, calls } = fakeTarget('t1', (c) => (c.item.serial === 'AA' ? Promise.reject(new Error('boom')) : Promise.resolve()));
    const m = manager([target], clock, journal);
    m.delivered(item('a', 'AA'));
    await settle();
    expect(clock.scheduled()).toEqual([1000]);
    m.delivered(item('a', 'BB'));
    await settle();
    expect(calls.map((c) => c.item.serial)).toEqual(['AA', 'BB']);
    expect(clock.scheduled()).toEqual([]);
    expect(journal.get('t1', 'a')).toMatchObject({ delivered: 'BB', attempts: 0 });
    await m.stop();
  });

  it('a failing target blocks neither another target nor the caller', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const never = deferred();
    const { target: stuck } = fakeTarget('stuck', () => never.promise);
    const { target: broken } = fakeTarget('broken', () => Promise.reject(new WhisperError('TARGET_SFTP', 'down', { retryable: true })));
    const { target: fine, calls } = fakeTarget('fine');
    const m = manager([stuck, broken, fine], clock, journal, { stopTimeoutMs: 100 });
    expect(() => m.delivered(item('a', 'AA'))).not.toThrow();
    m.delivered(item('b', 'BB'));
    await settle();
    expect(calls.map((c) => c.item.id)).toEqual(['a', 'b']);
    expect(m.pending()).toEqual(new Map([['stuck', 2], ['broken', 2], ['fine', 0]]));
    const stopped = m.stop();
    await clock.advance(100);
    // The stuck target ignores the abort: it is left behind after a last short wait.
    await clock.advance(100);
    await stopped;
  });

  it('resumes at start: delivers what the journal lacks, retries journaled removals, drops records of gone files', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    journal.set('t1', 'same', { delivered: 'S1' });
    journal.set('t1', 'old', { delivered: 'O1' });
    journal.set('t1', 'gone', { delivered: 'G1', removing: '/certs/gone.pem' });
    journal.set('t1', 'forgotten', { delivered: 'F1' });
    const loaded: string[] = [];
    const { target, calls, removals } = fakeTarget('t1');
    const m = manager([target], clock, journal, {
      load: (id) => {
        loaded.push(id);
        return Promise.resolve(item(id, id === 'old' ? 'O2' : 'N1'));
      },
    });
    m.resume([stored('same', 'S1'), stored('old', 'O2'), stored('new', 'N1')]);
    await settle();
    await settle();
    expect(loaded.sort()).toEqual(['new', 'old']);
    expect(calls.map((c) => `${c.item.id}:${c.item.serial}:${c.item.previousSerial ?? '-'}`).sort()).toEqual(['new:N1:-', 'old:O2:O1']);
    expect(removals).toEqual([{ id: 'gone', path: '/certs/gone.pem', serial: 'G1' }]);
    expect([...journal.records('t1').keys()].sort()).toEqual(['new', 'old', 'same']);
    await m.stop();
  });

  it('journals a removal before delivering it, and drops the record once the target took it away', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const gate = deferred();
    const removals: RemovalItem[] = [];
    const { target } = fakeTarget('t1', undefined, {
      async remove(r) {
        removals.push(r);
        await gate.promise;
      },
    });
    const { target: plain } = fakeTarget('no-remove', undefined, { remove: undefined });
    const m = manager([target, plain], clock, journal);
    m.delivered(item('multi-hosts.example.com', 'M1'));
    await settle();
    m.removed({ id: 'multi-hosts.example.com', path: '/certs/multi-hosts.example.com.pem' });
    expect(journal.get('t1', 'multi-hosts.example.com')?.removing).toBe('/certs/multi-hosts.example.com.pem');
    expect(journal.get('no-remove', 'multi-hosts.example.com')).toBeUndefined();
    await settle();
    expect(removals).toEqual([{ id: 'multi-hosts.example.com', path: '/certs/multi-hosts.example.com.pem', serial: 'M1' }]);
    gate.resolve();
    await settle();
    expect(journal.get('t1', 'multi-hosts.example.com')).toBeUndefined();
    await m.stop();
  });

  it('on stop, waits for deliveries in flight up to its bound, then aborts them; nothing new starts', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    let aborted = false;
    const { target, calls } = fakeTarget('t1', (c) =>
      new Promise<void>((_, reject) => {
        c.signal.addEventListener('abort', () => {
          aborted = true;
          reject(new WhisperError('ABORTED', 'aborted'));
        });
      }),
    );
    const m = manager([target], clock, journal, { stopTimeoutMs: 5000 });
    m.delivered(item('a', 'AA'));
    await settle();
    let done = false;
    const stopped = m.stop().then(() => (done = true));
    await clock.advance(4999);
    expect(done).toBe(false);
    expect(aborted).toBe(false);
    await clock.advance(1);
    await stopped;
    expect(aborted).toBe(true);
    // Not journaled as a failure: the next start delivers it again.
    expect(journal.get('t1', 'a')).toBeUndefined();
    m.delivered(item('b', 'BB'));
    await settle();
    expect(calls).toHaveLength(1);
  });

  it('runs at most `concurrency` deliveries of one target at once', async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const { target, calls } = fakeTarget('t1', (c) => {
      const g = deferred();
      gates.set(c.item.id, g);
      return g.promise;
    });
    const m = manager([target], clock, journal, { concurrency: 2 });
    for (const id of ['a', 'b', 'c']) m.delivered(item(id, 'S'));
    await settle();
    expect(calls.map((c) => c.item.id)).toEqual(['a', 'b']);
    gates.get('a')!.resolve();
    await settle();
    await settle();
    expect(calls.map((c) => c.item.id)).toEqual(['a', 'b', 'c']);
    gates.get('b')!.resolve();
    gates.get('c')!.resolve();
    await settle();
    await m.stop();
  });
});

describe('DeliveryManager.sweep', () => {
  it('runs each target\'s housekeeping once at a time, and a failure is only logged', async () => {
    const clock = fakeClock();
    const gate = deferred();
    let runs = 0;
    const { target } = fakeTarget('iam://', undefined, {
      sweep: async () => {
        runs++;
        await gate.promise;
        throw new WhisperError('TARGET_AWS', 'cannot list');
      },
    });
    const m = manager([target, fakeTarget('plain').target], clock, memoryJournal());
    m.sweep();
    m.sweep();
    await settle();
    expect(runs).toBe(1);
    gate.resolve();
    await settle();
    m.sweep();
    await settle();
    expect(runs).toBe(2);
    await m.stop();
  });
});

describe('DeliveryManager metrics', () => {
  it('counts deliveries by target and result, the last success, and the pending ones', async () => {
    const { createMetrics } = await import('../../src/http/metrics.js');
    const metrics = createMetrics({ defaultMetrics: false });
    const clock = fakeClock();
    const journal = memoryJournal();
    const { target } = fakeTarget('t1');
    const { target: broken } = fakeTarget('t2', () => Promise.reject(new WhisperError('TARGET_SFTP', 'down', { retryable: true })));
    const m = manager([target, broken], clock, journal, { metrics });
    metrics.attach({ targetsPending: () => m.pending() });
    m.delivered(item('a', 'AA'));
    await settle();
    m.delivered(item('a', 'AA'));
    await settle();
    const text = await metrics.registry.metrics();
    expect(text).toContain('whisper_target_deliveries_total{target="t1",result="success"} 1');
    expect(text).toContain('whisper_target_deliveries_total{target="t1",result="skipped"} 1');
    // Not delivered yet: the same serial again is tried again at once (and fails again).
    expect(text).toContain('whisper_target_deliveries_total{target="t2",result="failure"} 2');
    expect(text).toContain(`whisper_target_last_success_timestamp_seconds{target="t1"} ${clock.now() / 1000}`);
    expect(text).toContain('whisper_target_pending{target="t1"} 0');
    expect(text).toContain('whisper_target_pending{target="t2"} 1');
    await m.stop();
  });
  it("delivers a certificate only to the targets its policy accepts, at once and when resumed", async () => {
    const clock = fakeClock();
    const journal = memoryJournal();
    const edge = fakeTarget('edge');
    const aws = fakeTarget('aws');
    const accepts = (target: string, id: string) => !(id === 'private.example.com' && target === 'aws');
    const m = manager([edge.target, aws.target], clock, journal, { accepts, load: async (id) => item(id, 'CC') });
    m.delivered(item('private.example.com', 'AA'));
    m.delivered(item('public.example.com', 'BB'));
    await settle();
    expect(edge.calls.map((c) => c.item.id).sort()).toEqual(['private.example.com', 'public.example.com']);
    expect(aws.calls.map((c) => c.item.id)).toEqual(['public.example.com']);
    m.resume([stored('private.example.com', 'CC')]);
    await settle();
    expect(aws.calls.map((c) => c.item.id)).toEqual(['public.example.com']);
    expect(edge.calls.filter((c) => c.item.id === 'private.example.com').map((c) => c.item.serial)).toEqual(['AA', 'CC']);
  });
});
