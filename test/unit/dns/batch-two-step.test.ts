import { describe, it, expect } from 'vitest';
import { batchDnsProvider } from '../../../src/dns/batch.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import { WhisperError } from '../../../src/errors.js';
import type { Timers } from '../../../src/time.js';

/** Lets every promise chain that can run, run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Timers that fire only when told to. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  const delays: number[] = [];
  let next = 0;
  const timers: Timers = {
    setTimeout(fn, ms) {
      delays.push(ms);
      pending.set(++next, fn);
      return next;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    delays,
    fire() {
      const due = [...pending.values()];
      pending.clear();
      for (const fn of due) fn();
    },
  };
}

/** A change of the fake back end: accepted when the test says, then live when the test says. */
interface Change {
  readonly mode: 'present' | 'cleanUp';
  readonly records: TxtRecord[];
  accept(): void;
  refuse(err: unknown): void;
  live(): void;
  fail(err: unknown): void;
  waits: number;
}

/** A two-step provider (like Route53: submitted, then INSYNC) whose every step the test ends by hand. */
function twoStepProvider() {
  const changes: Change[] = [];
  const submit: NonNullable<DnsProvider['submit']> = (mode, records) =>
    new Promise((resolve, reject) => {
      let live!: () => void;
      let fail!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        live = res;
        fail = rej;
      });
      done.catch(() => undefined);
      const change: Change = {
        mode,
        records: [...records],
        waits: 0,
        accept: () =>
          resolve(async () => {
            change.waits++;
            await done;
          }),
        refuse: reject,
        live: () => live(),
        fail: (err) => fail(err),
      };
      changes.push(change);
    });
  const provider: DnsProvider = {
    name: 'two-step',
    submit,
    present: async (records, signal) => (await submit('present', records, signal))(signal),
    cleanUp: async (records, signal) => (await submit('cleanUp', records, signal))(signal),
    batchKey: async (fqdn) => fqdn.split('.').slice(2).join('.'),
  };
  return { provider, changes };
}

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

const rec = (host: string, zone = 'one.test'): TxtRecord => ({ fqdn: `_acme-challenge.${host}.${zone}`, value: `v-${host}` });

function setup() {
  const fake = twoStepProvider();
  const clock = manualTimers();
  const time = { ms: 0 };
  const dns = batchDnsProvider(fake.provider, { timers: clock.timers, windowMs: 40, cleanUpWindowMs: 90, busyWindowMs: 100, cleanUpBusyWindowMs: 300, now: () => time.ms });
  return { ...fake, clock, dns, time };
}

describe('batchDnsProvider over a two-step provider (submitted, then live)', () => {
  it("sends a zone's next change once the previous one is accepted, without waiting for it to be live", async () => {
    const t = setup();
    const first = track(t.dns.present([rec('a')]));
    await settle();
    t.clock.fire();
    await settle();
    expect(t.changes).toHaveLength(1);
    const later = [track(t.dns.present([rec('b')])), track(t.dns.present([rec('c')]))];
    await settle();
    expect(t.changes).toHaveLength(1); // the first change is not accepted yet: one submission at a time per zone
    t.time.ms += 100;
    t.changes[0]!.accept();
    await settle();
    // Accepted but not live: the orders that came meanwhile go out at once, in one change.
    expect(t.changes).toHaveLength(2);
    expect(t.changes[1]!.records.map((r) => r.fqdn)).toEqual(['_acme-challenge.b.one.test', '_acme-challenge.c.one.test']);
    expect(first.status).toBe('pending');
    t.changes[1]!.accept();
    await settle();
    t.changes[1]!.live();
    await settle();
    expect(later.map((s) => s.status)).toEqual(['resolved', 'resolved']);
    expect(first.status).toBe('pending'); // each caller waits for its own change
    t.changes[0]!.live();
    await settle();
    expect(first.status).toBe('resolved');
  });

  it('a change that never goes live fails only its own callers; a refused one frees the zone too', async () => {
    const t = setup();
    const a = track(t.dns.present([rec('a')]));
    await settle();
    t.clock.fire();
    await settle();
    t.changes[0]!.accept();
    await settle();
    const b = track(t.dns.present([rec('b')]));
    await settle();
    t.clock.fire();
    await settle();
    t.changes[1]!.refuse(new WhisperError('DNS_PROVIDER', 'refused', { retryable: true }));
    await settle();
    expect(b.status).toBe('rejected');
    expect(a.status).toBe('pending');
    const c = track(t.dns.present([rec('c')]));
    await settle();
    t.clock.fire();
    await settle();
    expect(t.changes).toHaveLength(3);
    t.changes[0]!.fail(new WhisperError('DNS_PROVIDER', 'not INSYNC in time', { retryable: true }));
    t.changes[2]!.accept();
    await settle();
    t.changes[2]!.live();
    await settle();
    expect(a.status).toBe('rejected');
    expect(c.status).toBe('resolved');
  });

  it('a clean-up waits until the present of its record is live; close waits for accepted changes too', async () => {
    const t = setup();
    const r = rec('a');
    const present = track(t.dns.present([r]));
    await settle();
    t.clock.fire();
    await settle();
    t.changes[0]!.accept();
    await settle();
    const cleanUp = track(t.dns.cleanUp([r]));
    await settle();
    t.clock.fire();
    await settle();
    expect(t.changes).toHaveLength(1);
    t.changes[0]!.live();
    await settle();
    expect(present.status).toBe('resolved');
    t.clock.fire();
    await settle();
    expect(t.changes.map((c) => c.mode)).toEqual(['present', 'cleanUp']);
    t.changes[1]!.accept();
    await settle();
    const closed = track(t.dns.close!());
    await settle();
    expect(closed.status).toBe('pending');
    t.changes[1]!.live();
    await settle();
    expect(cleanUp.status).toBe('resolved');
    expect(closed.status).toBe('resolved');
  });
  it('after a quick acceptance, the records that just arrived wait out their window to gather the rest of the burst', async () => {
    const t = setup();
    void t.dns.present([rec('a')]);
    await settle();
    t.clock.fire();
    await settle();
    t.time.ms = 10;
    void t.dns.present([rec('b')]);
    await settle();
    t.time.ms = 20;
    t.changes[0]!.accept(); // b has waited 10 of its 40 ms
    await settle();
    expect(t.changes).toHaveLength(1);
    void t.dns.present([rec('c')]);
    await settle();
    t.clock.fire();
    await settle();
    expect(t.changes).toHaveLength(2);
    expect(t.changes[1]!.records.map((r) => r.fqdn)).toEqual(['_acme-challenge.b.one.test', '_acme-challenge.c.one.test']);
  });
  it('gathers for longer while a change of the zone is becoming live, and for the usual window once none is', async () => {
    const t = setup();
    const first = track(t.dns.present([rec('a')]));
    await settle();
    t.clock.fire();
    await settle();
    t.changes[0]!.accept();
    await settle();
    void t.dns.present([rec('b')]);
    await settle();
    expect(t.clock.delays).toEqual([40, 100]); // the zone is busy: b gathers for the busy window
    t.clock.fire();
    await settle();
    t.changes[1]!.accept();
    t.changes[0]!.live();
    t.changes[1]!.live();
    await settle();
    expect(first.status).toBe('resolved');
    void t.dns.present([rec('c')]);
    await settle();
    expect(t.clock.delays).toEqual([40, 100, 40]); // nothing settling any more: the usual window
  });
  it('gathers DNS-PERSIST-01 records for longer: they are written once per name, ever', async () => {
    const t = setup();
    void t.dns.present([{ ...rec('a'), persistent: true }]);
    await settle();
    expect(t.clock.delays).toEqual([1000]);
    const mixed = setup();
    void mixed.dns.present([{ ...rec('a'), persistent: true }]);
    void mixed.dns.present([rec('b')]); // a dns-01 record arriving meanwhile (a fallback) goes out with them
    await settle();
    expect(mixed.clock.delays).toEqual([1000]);
    mixed.clock.fire();
    await settle();
    expect(mixed.changes[0]!.records.map((r) => r.fqdn)).toEqual(['_acme-challenge.a.one.test', '_acme-challenge.b.one.test']);
  });
});
