import { describe, it, expect } from 'vitest';
import { createNotifier } from '../../../src/consul/notify.js';
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

function setup(failures = 0, debounceMs?: number) {
  const timers = new FakeTimers();
  const kv = fakeKv(failures);
  const notifier = createNotifier({
    api: kv.api,
    key: KEY,
    timers,
    now: () => T0 + timers.now,
    backoff: { random: () => 0.5 },
    ...(debounceMs === undefined ? {} : { debounceMs }),
  });
  return { timers, kv, notifier };
}

describe('createNotifier', () => {
  it('coalesces the changes of one debounce window into one write of sorted, unique files', async () => {
    const { timers, kv, notifier } = setup();
    notifier.changed(['b.example.com.pem']);
    await timers.advance(500);
    notifier.changed(['a.example.com.pem', 'b.example.com.pem']);
    await timers.advance(499);
    expect(kv.writes).toEqual([]);
    await timers.advance(1);
    expect(kv.writes).toEqual([
      { key: KEY, value: { time: '2026-11-20T10:00:01.000Z', files: ['a.example.com.pem', 'b.example.com.pem'] } },
    ]);
    expect(timers.pending).toEqual([]);
  });

  it('starts a new window for changes after a write', async () => {
    const { timers, kv, notifier } = setup(0, 200);
    notifier.changed(['a.pem']);
    await timers.advance(200);
    notifier.changed(['b.pem']);
    await timers.advance(200);
    expect(kv.writes.map((w) => w.value.files)).toEqual([['a.pem'], ['b.pem']]);
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
    await timers.advance(1000);
    expect(kv.calls).toBe(1);
    expect(timers.pending).toEqual([1000]);
    notifier.changed(['c.pem']);
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
    await again.timers.advance(1000);
    expect(again.timers.pending).toEqual([1000]);
  });

  it('writes at once on flush, and rejects when that write fails while keeping the change for a retry', async () => {
    const { timers, kv, notifier } = setup(1);
    notifier.changed(['a.pem']);
    await expect(notifier.flush()).rejects.toMatchObject({ code: 'CONSUL_UNAVAILABLE' });
    expect(timers.pending).toEqual([1000]);
    await notifier.flush();
    expect(kv.writes.map((w) => w.value.files)).toEqual([['a.pem']]);
    expect(timers.pending).toEqual([]);
  });

  it('flushes on close, without throwing when the write fails, and ignores changes afterwards', async () => {
    const ok = setup();
    ok.notifier.changed(['a.pem']);
    await ok.notifier.close();
    expect(ok.kv.writes.map((w) => w.value.files)).toEqual([['a.pem']]);
    ok.notifier.changed(['b.pem']);
    expect(ok.timers.pending).toEqual([]);

    const failing = setup(5);
    failing.notifier.changed(['a.pem']);
    await expect(failing.notifier.close()).resolves.toBeUndefined();
    expect(failing.kv.calls).toBe(1);
    expect(failing.timers.pending).toEqual([]);
  });

  it('writes one at a time: a change during a slow write goes into the next one', async () => {
    const timers = new FakeTimers();
    const values: string[][] = [];
    let release!: () => void;
    let inFlight = 0;
    let maxInFlight = 0;
    const notifier = createNotifier({
      key: KEY,
      timers,
      debounceMs: 100,
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
    await timers.advance(100);
    notifier.changed(['b.pem']);
    const flushed = notifier.flush();
    await settle();
    expect(values).toEqual([]);
    release();
    await flushed;
    expect(values).toEqual([['a.pem'], ['b.pem']]);
    expect(maxInFlight).toBe(1);
  });
});
