import { describe, it, expect } from 'vitest';
import { createNotifier, notifyDelay } from '../../../src/consul/notify.js';
import { WhisperError } from '../../../src/errors.js';
import { FakeTimers, settle } from './fakes.js';

const KEY = 'whisper/updated';
const T0 = Date.parse('2026-11-20T10:00:00.000Z');

/** A kvSet that records writes and fails the first `failures` calls. */
function fakeKv(failures = 0) {
  const writes: Array<{ key: string; value: { time: string; files: string[] } }> = [];
  let calls = 0;
  return {
    writes,
    get calls() {
      return calls;
    },
    api: {
      async kvSet(key: string, value: string) {
        calls++;
        if (calls <= failures) throw new WhisperError('CONSUL_UNAVAILABLE', 'Consul at consul:8500 unreachable', { retryable: true });
        writes.push({ key, value: JSON.parse(value) as { time: string; files: string[] } });
      },
    },
  };
}

function setup(failures = 0, intervalMs?: number) {
  const timers = new FakeTimers();
  const kv = fakeKv(failures);
  const notifier = createNotifier({
    api: kv.api,
    key: KEY,
    timers,
    now: () => T0 + timers.now,
    backoff: { random: () => 0.5 },
    ...(intervalMs === undefined ? {} : { intervalMs }),
  });
  return { timers, kv, notifier };
}

describe('notifyDelay', () => {
  it('writes the first change at once, then not before an interval after the last bump', () => {
    expect(notifyDelay(1000, undefined, 5000)).toBe(0);
    expect(notifyDelay(1000, 0, 5000)).toBe(4000);
    expect(notifyDelay(5000, 0, 5000)).toBe(0);
    expect(notifyDelay(60_000, 0, 5000)).toBe(0);
  });
});

describe('createNotifier', () => {
  it('writes a single change at once (leading edge), and nothing more', async () => {
    const { timers, kv, notifier } = setup();
    notifier.changed(['b.example.com.pem', 'a.example.com.pem', 'b.example.com.pem']);
    await settle();
    expect(kv.writes).toEqual([
      { key: KEY, value: { time: '2026-11-20T10:00:00.000Z', files: ['a.example.com.pem', 'b.example.com.pem'] } },
    ]);
    expect(timers.pending).toEqual([]);
    await timers.advance(60_000);
    expect(kv.writes).toHaveLength(1);
  });

  it('puts changes made before the write starts into that write', async () => {
    const { kv, notifier } = setup();
    notifier.changed(['a.pem']);
    notifier.changed(['b.pem']);
    await settle();
    expect(kv.writes.map((w) => w.value.files)).toEqual([['a.pem', 'b.pem']]);
  });

  it('bumps at most once per interval during a burst, then once after the last change, with every file', async () => {
    const { timers, kv, notifier } = setup();
    // 20 changes over 11.4 s, one every 600 ms; the default interval is 5 s.
    for (let i = 0; i < 20; i++) {
      notifier.changed([`c${String(i).padStart(2, '0')}.pem`]);
      await settle();
      await timers.advance(600);
    }
    await timers.advance(10_000);
    const at = kv.writes.map((w) => Date.parse(w.value.time) - T0);
    expect(at).toEqual([0, 5000, 10_000, 15_000]);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(5000);
    // Each bump carries every file changed since the one before.
    expect(kv.writes.map((w) => w.value.files.length)).toEqual([1, 8, 8, 3]);
    expect(kv.writes.flatMap((w) => w.value.files)).toEqual(Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}.pem`));
    expect(timers.pending).toEqual([]);
  });

  it('writes at once again after a quiet interval, and waits out the rest of it otherwise', async () => {
    const { timers, kv, notifier } = setup(0, 200);
    notifier.changed(['a.pem']);
    await settle();
    await timers.advance(200);
    notifier.changed(['b.pem']);
    await settle();
    expect(kv.writes.map((w) => w.value.files)).toEqual([['a.pem'], ['b.pem']]);
    await timers.advance(50);
    notifier.changed(['c.pem']);
    expect(timers.pending).toEqual([150]);
    await timers.advance(150);
    expect(kv.writes.map((w) => w.value.files)).toEqual([['a.pem'], ['b.pem'], ['c.pem']]);
  });

  it('writes nothing for no change', async () => {
    const { timers, kv, notifier } = setup();
    notifier.changed([]);
    expect(timers.pending).toEqual([]);
    await notifier.flush();
    expect(kv.calls).toBe(0);
  });

  it('retries a failed write with backoff, merging later changes, and does not lose the change', async () => {
    const { timers, kv, notifier } = setup(2);
    notifier.changed(['a.pem']);
    await settle();
    expect(kv.calls).toBe(1);
    expect(timers.pending).toEqual([1000]);
    notifier.changed(['c.pem']);
    expect(timers.pending).toEqual([1000]);
    await timers.advance(1000);
    expect(kv.calls).toBe(2);
    expect(timers.pending).toEqual([2000]);
    await timers.advance(1999);
    expect(kv.writes).toEqual([]);
    await timers.advance(1);
    expect(kv.writes.map((w) => w.value.files)).toEqual([['a.pem', 'c.pem']]);
    expect(timers.pending).toEqual([]);
    // The backoff starts over after a success.
    const again = setup(1);
    again.notifier.changed(['x.pem']);
    await settle();
    expect(again.timers.pending).toEqual([1000]);
  });

  it('writes what is pending at once on flush, and rejects when that write fails while keeping the change for a retry', async () => {
    const ok = setup();
    ok.notifier.changed(['a.pem']);
    await settle();
    ok.notifier.changed(['b.pem']);
    expect(ok.timers.pending).toEqual([5000]);
    await ok.notifier.flush();
    expect(ok.kv.writes.map((w) => w.value.files)).toEqual([['a.pem'], ['b.pem']]);
    expect(ok.timers.pending).toEqual([]);

    const { timers, kv, notifier } = setup(2);
    notifier.changed(['a.pem']);
    await settle();
    await expect(notifier.flush()).rejects.toMatchObject({ code: 'CONSUL_UNAVAILABLE' });
    expect(timers.pending).toEqual([2000]);
    await notifier.flush();
    expect(kv.writes.map((w) => w.value.files)).toEqual([['a.pem']]);
    expect(timers.pending).toEqual([]);
  });

  it('writes the pending trailing bump on close, without throwing when it fails, and ignores changes afterwards', async () => {
    const ok = setup();
    ok.notifier.changed(['a.pem']);
    await settle();
    ok.notifier.changed(['b.pem']);
    expect(ok.timers.pending).toEqual([5000]);
    await ok.notifier.close();
    expect(ok.kv.writes.map((w) => w.value.files)).toEqual([['a.pem'], ['b.pem']]);
    expect(ok.timers.pending).toEqual([]);
    ok.notifier.changed(['c.pem']);
    await ok.timers.advance(10_000);
    expect(ok.kv.calls).toBe(2);

    const failing = setup(5);
    failing.notifier.changed(['a.pem']);
    await settle();
    await expect(failing.notifier.close()).resolves.toBeUndefined();
    expect(failing.kv.calls).toBe(2);
    expect(failing.timers.pending).toEqual([]);
  });

  it('writes one at a time: a change during a slow write goes into the next bump, an interval after it', async () => {
    const timers = new FakeTimers();
    const values: string[][] = [];
    let release!: () => void;
    let inFlight = 0;
    let maxInFlight = 0;
    const notifier = createNotifier({
      key: KEY,
      timers,
      now: () => timers.now,
      api: {
        async kvSet(_key, value) {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          if (values.length === 0) await new Promise<void>((r) => (release = r));
          values.push((JSON.parse(value) as { files: string[] }).files);
          inFlight--;
        },
      },
    });
    notifier.changed(['a.pem']);
    await settle();
    notifier.changed(['b.pem']);
    expect(timers.pending).toEqual([5000]);
    await timers.advance(3000);
    expect(values).toEqual([]);
    release();
    await settle();
    expect(values).toEqual([['a.pem']]);
    await timers.advance(1999);
    expect(values).toEqual([['a.pem']]);
    await timers.advance(1);
    expect(values).toEqual([['a.pem'], ['b.pem']]);
    expect(maxInFlight).toBe(1);
  });
});
