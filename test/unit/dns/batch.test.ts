import { describe, it, expect } from 'vitest';
import { batchDnsProvider } from '../../../src/dns/batch.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import { WhisperError } from '../../../src/errors.js';
import type { Timers } from '../../../src/time.js';

/** Timers that fire only when told to. */
function manualTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  const timers: Timers = {
    setTimeout(fn, ms) {
      pending.set(++next, { fn, ms });
      return next;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    delays: () => [...pending.values()].map((t) => t.ms),
    fire() {
      const due = [...pending.values()];
      pending.clear();
      for (const t of due) t.fn();
    },
  };
}

/** Lets every promise chain that can run, run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Call {
  readonly mode: 'present' | 'cleanUp';
  readonly records: TxtRecord[];
  readonly signal: AbortSignal | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

/** A provider whose calls stay open until the test ends them; the zone of `_acme-challenge.x.<zone>` is `<zone>`. */
function fakeProvider(options: { keyFails?: string } = {}) {
  const calls: Call[] = [];
  const keyLookups: string[] = [];
  let closed = 0;
  const call = (mode: Call['mode']) => (records: readonly TxtRecord[], signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ mode, records: [...records], signal, resolve, reject });
    });
  const provider: DnsProvider = {
    name: 'fake',
    present: call('present'),
    cleanUp: call('cleanUp'),
    nameservers: async () => ['192.0.2.1:53'],
    async batchKey(fqdn) {
      keyLookups.push(fqdn);
      await settle();
      if (fqdn === options.keyFails) throw new WhisperError('DNS_ZONE_NOT_FOUND', `no zone holds ${fqdn}`);
      return fqdn.split('.').slice(2).join('.');
    },
    async close() {
      closed++;
    },
  };
  return { provider, calls, keyLookups, closed: () => closed };
}

const rec = (host: string, zone: string, value = `v-${host}`): TxtRecord => ({ fqdn: `_acme-challenge.${host}.${zone}`, value });

/** Where a promise stands, without waiting for it. */
function track(p: Promise<unknown>) {
  const state: { status: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { status: 'pending' };
  p.then(
    () => (state.status = 'resolved'),
    (err: unknown) => {
      state.status = 'rejected';
      state.error = err;
    },
  );
  return state;
}

function setup(options: { keyFails?: string } = {}) {
  const fake = fakeProvider(options);
  const clock = manualTimers();
  const time = { ms: 0 };
  const dns = batchDnsProvider(fake.provider, { timers: clock.timers, windowMs: 40, cleanUpWindowMs: 90, now: () => time.ms });
  return { ...fake, clock, dns, time };
}

describe('batchDnsProvider', () => {
  it('gathers the presents of one window into one call per zone, each caller released by its own zone', async () => {
    const t = setup();
    const a = [1, 2, 3, 4, 5].map((i) => track(t.dns.present([rec(`a${i}`, 'one.test')])));
    const b = [1, 2, 3].map((i) => track(t.dns.present([rec(`b${i}`, 'two.test')])));
    await settle();
    expect(t.calls).toEqual([]);
    expect(t.clock.delays()).toEqual([40, 40]);
    t.clock.fire();
    await settle();
    expect(t.calls.map((c) => [c.mode, c.records.length])).toEqual([['present', 5], ['present', 3]]);
    expect(t.calls[0]!.records.map((r) => r.fqdn)).toEqual([1, 2, 3, 4, 5].map((i) => `_acme-challenge.a${i}.one.test`));

    t.calls[1]!.resolve();
    await settle();
    expect(b.map((s) => s.status)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(a.map((s) => s.status)).toEqual(Array(5).fill('pending'));
    t.calls[0]!.resolve();
    await settle();
    expect(a.map((s) => s.status)).toEqual(Array(5).fill('resolved'));
  });

  it('puts what arrives while a call is in flight into the next call, sent as soon as that one ends', async () => {
    const t = setup();
    const first = track(t.dns.present([rec('a', 'one.test')]));
    await settle();
    t.clock.fire();
    await settle();
    const later = [track(t.dns.present([rec('b', 'one.test')])), track(t.dns.present([rec('c', 'one.test')]))];
    await settle();
    t.clock.fire(); // no timer is waiting: the next call waits for the one in flight
    expect(t.calls).toHaveLength(1);
    t.time.ms += 500; // the call took longer than a window: what gathered meanwhile has waited enough
    t.calls[0]!.resolve();
    await settle();
    expect(first.status).toBe('resolved');
    expect(later.map((s) => s.status)).toEqual(['pending', 'pending']);
    expect(t.calls).toHaveLength(2);
    expect(t.calls[1]!.records.map((r) => r.fqdn)).toEqual(['_acme-challenge.b.one.test', '_acme-challenge.c.one.test']);
    t.calls[1]!.resolve();
    await settle();
    expect(later.map((s) => s.status)).toEqual(['resolved', 'resolved']);
  });

  it('merges two orders for the same name with different values, and sends a record twice asked for once', async () => {
    const t = setup();
    const x1 = rec('www', 'one.test', 'order-1');
    const x2 = rec('www', 'one.test', 'order-2');
    const both = Promise.all([t.dns.present([x1]), t.dns.present([x2]), t.dns.present([x1])]);
    await settle();
    t.clock.fire();
    await settle();
    expect(t.calls.map((c) => c.records)).toEqual([[x1, x2]]);
    t.calls[0]!.resolve();
    await both;
  });

  it('a caller with records in two zones waits for both calls', async () => {
    const t = setup();
    const multi = track(t.dns.present([rec('a', 'one.test'), rec('b', 'two.test')]));
    await settle();
    t.clock.fire();
    await settle();
    expect(t.calls).toHaveLength(2);
    t.calls[0]!.resolve();
    await settle();
    expect(multi.status).toBe('pending');
    t.calls[1]!.resolve();
    await settle();
    expect(multi.status).toBe('resolved');
  });

  it('a failing call fails only the callers whose records it held; the zone works again afterwards', async () => {
    const t = setup();
    const a = [track(t.dns.present([rec('a1', 'one.test')])), track(t.dns.present([rec('a2', 'one.test')]))];
    const b = track(t.dns.present([rec('b', 'two.test')]));
    await settle();
    t.clock.fire();
    await settle();
    const boom = new WhisperError('DNS_PROVIDER', 'zone one.test: SERVFAIL', { retryable: true });
    t.calls[0]!.reject(boom);
    t.calls[1]!.resolve();
    await settle();
    expect(a.map((s) => s.error)).toEqual([boom, boom]);
    expect(b.status).toBe('resolved');

    const again = track(t.dns.present([rec('a1', 'one.test')]));
    await settle();
    t.clock.fire();
    await settle();
    t.calls[2]!.resolve();
    await settle();
    expect(again.status).toBe('resolved');
  });

  it('a caller one of whose names has no zone fails alone, before anything is sent for it', async () => {
    const t = setup({ keyFails: '_acme-challenge.bad.one.test' });
    const bad = track(t.dns.present([rec('ok', 'two.test'), rec('bad', 'one.test')]));
    const good = track(t.dns.present([rec('good', 'two.test')]));
    await settle();
    t.clock.fire();
    await settle();
    expect(bad.error).toMatchObject({ code: 'DNS_ZONE_NOT_FOUND' });
    expect(t.calls.map((c) => c.records.map((r) => r.fqdn))).toEqual([['_acme-challenge.good.two.test']]);
    t.calls[0]!.resolve();
    await settle();
    expect(good.status).toBe('resolved');
  });

  it('an aborted caller leaves the batch: out of the next call while waiting, released at once while in flight', async () => {
    const t = setup();
    const gone = new AbortController();
    const left = track(t.dns.present([rec('gone', 'one.test')], gone.signal));
    const stays = track(t.dns.present([rec('stays', 'one.test')]));
    await settle();
    gone.abort(new Error('order stopped'));
    await settle();
    expect(left.error).toMatchObject({ code: 'ABORTED' });
    t.clock.fire();
    await settle();
    expect(t.calls[0]!.records.map((r) => r.fqdn)).toEqual(['_acme-challenge.stays.one.test']);

    // In flight: the leaver is released, the call goes on for the others.
    const c2 = new AbortController();
    const inFlight = [track(t.dns.present([rec('x', 'two.test')], c2.signal)), track(t.dns.present([rec('y', 'two.test')]))];
    await settle();
    t.clock.fire();
    await settle();
    c2.abort();
    await settle();
    expect(inFlight[0]!.error).toMatchObject({ code: 'ABORTED' });
    expect(t.calls[1]!.signal?.aborted).toBe(false);
    t.calls[0]!.resolve();
    t.calls[1]!.resolve();
    await settle();
    expect(stays.status).toBe('resolved');
    expect(inFlight[1]!.status).toBe('resolved');

    // Already aborted: nothing is looked up or sent.
    const dead = AbortSignal.abort();
    await expect(t.dns.present([rec('z', 'one.test')], dead)).rejects.toMatchObject({ code: 'ABORTED' });
    expect(t.keyLookups).not.toContain('_acme-challenge.z.one.test');
  });

  it('aborts a call once every caller it holds has left', async () => {
    const t = setup();
    const c1 = new AbortController();
    const c2 = new AbortController();
    const p1 = track(t.dns.present([rec('a', 'one.test')], c1.signal));
    const p2 = track(t.dns.present([rec('b', 'one.test')], c2.signal));
    await settle();
    t.clock.fire();
    await settle();
    c1.abort();
    expect(t.calls[0]!.signal?.aborted).toBe(false);
    c2.abort();
    expect(t.calls[0]!.signal?.aborted).toBe(true);
    t.calls[0]!.reject(new WhisperError('ABORTED', 'aborted'));
    await settle();
    expect([p1.status, p2.status]).toEqual(['rejected', 'rejected']);
  });

  it('batches clean-ups the same way, apart from presents', async () => {
    const t = setup();
    const done = Promise.all([1, 2, 3, 4].map((i) => t.dns.cleanUp([rec(`c${i}`, 'one.test')])));
    const pending = track(t.dns.present([rec('p', 'one.test')]));
    await settle();
    expect(t.clock.delays()).toEqual([90, 40]); // nobody waits for a clean-up: it gathers longer
    t.clock.fire();
    await settle();
    expect(t.calls.map((c) => [c.mode, c.records.length])).toEqual([['cleanUp', 4], ['present', 1]]);
    for (const c of t.calls) c.resolve();
    await done;
    await settle();
    expect(pending.status).toBe('resolved');
  });

  it('a clean-up of a record waits for the present still carrying it', async () => {
    const t = setup();
    const r = rec('a', 'one.test');
    const c1 = new AbortController();
    const presented = track(t.dns.present([r], c1.signal));
    const other = track(t.dns.present([rec('b', 'one.test')]));
    await settle();
    t.clock.fire();
    await settle();
    c1.abort(); // the order gave up; its clean-up must not overtake its own present
    const cleaned = track(t.dns.cleanUp([r]));
    await settle();
    t.clock.fire();
    await settle();
    expect(t.calls.map((c) => c.mode)).toEqual(['present']);
    t.calls[0]!.resolve();
    await settle();
    t.clock.fire();
    await settle();
    expect(t.calls.map((c) => c.mode)).toEqual(['present', 'cleanUp']);
    t.calls[1]!.resolve();
    await settle();
    expect([presented.status, other.status, cleaned.status]).toEqual(['rejected', 'resolved', 'resolved']);
  });

  it('close sends what is gathering at once, waits for the calls in flight, then closes the provider', async () => {
    const t = setup();
    const gathering = track(t.dns.cleanUp([rec('a', 'one.test')]));
    await settle();
    const closing = track(t.dns.close!());
    await settle();
    expect(t.calls.map((c) => c.mode)).toEqual(['cleanUp']);
    expect(t.clock.delays()).toEqual([]);
    expect(t.closed()).toBe(0);
    t.calls[0]!.resolve();
    await settle();
    expect(gathering.status).toBe('resolved');
    expect(closing.status).toBe('resolved');
    expect(t.closed()).toBe(1);
  });

  it('keeps the provider as it is when it cannot batch (exec: one call per order)', () => {
    const exec: DnsProvider = { name: 'exec', present: async () => undefined, cleanUp: async () => undefined };
    expect(batchDnsProvider(exec)).toBe(exec);
  });

  it('passes the name servers and the name of the provider on', async () => {
    const t = setup();
    expect(t.dns.name).toBe('fake');
    expect(await t.dns.nameservers!('_acme-challenge.a.one.test')).toEqual(['192.0.2.1:53']);
  });
});
