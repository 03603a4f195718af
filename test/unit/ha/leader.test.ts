import { describe, it, expect } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { runLeaderLoop } from '../../../src/ha/leader.js';
import type { HaConsul } from '../../../src/ha/session.js';
import type { KvRead } from '../../../src/consul/api.js';

/** A one-key Consul: sessions, acquire/release, and blocking reads that wake on change. */
function fakeConsul() {
  let holder: string | undefined;
  let index = 1;
  let next = 0;
  const live = new Set<string>();
  /** Agent calls and session creations, in order. */
  const agent: string[] = [];
  const waiters: Array<() => void> = [];
  /** The index of every read, and how many of the next reads fail. */
  const reads: Array<number | undefined> = [];
  let failing = 0;
  const bump = () => {
    index++;
    waiters.splice(0).forEach((w) => w());
  };
  const api: HaConsul = {
    async agentServiceRegister(service) {
      agent.push(`register ${service.id}`);
    },
    async agentCheckPass(id) {
      agent.push(`pass ${id}`);
    },
    async agentServiceDeregister(id) {
      agent.push(`deregister ${id}`);
    },
    async sessionCreate(spec) {
      const id = `s${++next}`;
      agent.push(`create ${id} ${spec.checks?.join(',')}`);
      live.add(id);
      return id;
    },
    async sessionRenew(id) {
      return live.has(id);
    },
    async sessionDestroy(id) {
      live.delete(id);
      if (holder === id) {
        holder = undefined;
        bump();
      }
    },
    async kvAcquire(_key, _value, session) {
      if (holder !== undefined || !live.has(session)) return false;
      holder = session;
      bump();
      return true;
    },
    async kvRelease(_key, session) {
      if (holder !== session) return false;
      holder = undefined;
      bump();
      return true;
    },
    async kvRead(key, { index: after, signal }): Promise<KvRead> {
      reads.push(after);
      if (failing > 0) {
        failing--;
        throw new Error('Consul unreachable');
      }
      if (after && after >= index) {
        await new Promise<void>((resolve, reject) => {
          waiters.push(resolve);
          signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      }
      return { index, ...(holder ? { item: { key, value: '', session: holder, modifyIndex: index } } : {}) };
    },
  };
  return {
    api,
    holder: () => holder,
    destroy: (id: string) => api.sessionDestroy(id),
    reads,
    agent,
    /** Fails the next read, and wakes the blocking one so that it is the next. */
    failNextRead: () => {
      failing = 1;
      waiters.splice(0).forEach((w) => w());
    },
  };
}

/** A sleep that never waits long, so renewals and retries happen at once but still yield. */
const quickSleep = (_ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    setImmediate(resolve);
  });

/**
 * Retries and lock-delay waits (1 s) pass at once; the keep-alive (a third of the check TTL: 10 s with `checkTtlS: 30`)
 * never ticks, so these tests see only what the lock key and the session calls do.
 */
const shortSleepsOnly = (ms: number, s?: AbortSignal) =>
  ms >= 5000 ? new Promise<void>((_, reject) => s?.addEventListener('abort', () => reject(new Error('aborted')), { once: true })) : quickSleep(ms, s);

describe('runLeaderLoop', () => {
  it('runs lead only on the lock holder, and aborts it at once when its session is destroyed', async () => {
    const consul = fakeConsul();
    const stop = new AbortController();
    const events: string[] = [];
    const leads: Array<{ name: string; signal: AbortSignal }> = [];
    const instance = (name: string) =>
      runLeaderLoop(
        {
          api: consul.api,
          checkTtlS: 30,
          sleep: shortSleepsOnly,
          log: silentLogger(),
          lead: (signal) => {
            events.push(`${name} leads`);
            leads.push({ name, signal });
            return new Promise((resolve) => signal.addEventListener('abort', () => (events.push(`${name} stops`), resolve()), { once: true }));
          },
        },
        stop.signal,
      );
    const runs = [instance('a'), instance('b')];
    await vi_waitFor(() => leads.length === 1);
    const first = leads[0]!;
    expect(leads.filter((l) => !l.signal.aborted)).toHaveLength(1);
    await consul.destroy(consul.holder()!);
    // The old leader's pipeline is aborted before anyone else leads.
    await vi_waitFor(() => leads.length === 2);
    expect(first.signal.aborted).toBe(true);
    expect(events.indexOf(`${first.name} stops`)).toBeLessThan(events.lastIndexOf(`${leads[1]!.name} leads`));
    expect(leads.filter((l) => !l.signal.aborted)).toHaveLength(1);
    stop.abort();
    await Promise.all(runs);
    expect(leads.every((l) => l.signal.aborted)).toBe(true);
    expect(consul.holder()).toBeUndefined();
  });
});

describe('runLeaderLoop: the instance\'s health check', () => {
  it('registers one check, ties each session to it, and deregisters it once stopped', async () => {
    const consul = fakeConsul();
    const stop = new AbortController();
    const leads: AbortSignal[] = [];
    const run = runLeaderLoop(
      {
        api: consul.api,
        checkTtlS: 30,
        sleep: shortSleepsOnly,
        log: silentLogger(),
        lead: (signal) => {
          leads.push(signal);
          return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        },
      },
      stop.signal,
    );
    await vi_waitFor(() => leads.length === 1);
    // A lost session: the next one is tied to the same check, registered (again) first.
    await consul.destroy(consul.holder()!);
    await vi_waitFor(() => leads.length === 2);
    stop.abort();
    await run;
    const id = consul.agent[0]!.split(' ')[1]!;
    expect(id).toMatch(/^whisper-ts-.+-\d+-[0-9a-f]{6}$/);
    expect(consul.agent).toEqual([
      `register ${id}`, `pass ${id}`, `create s1 serfHealth,${id}`,
      `register ${id}`, `pass ${id}`, `create s2 serfHealth,${id}`,
      `deregister ${id}`,
    ]);
  });
});

describe('runLeaderLoop: watching the lock', () => {
  it('keeps leading through a failed read of the lock key, and re-reads it without blocking (Consul may be another agent)', async () => {
    const consul = fakeConsul();
    const stop = new AbortController();
    const leads: AbortSignal[] = [];
    const run = runLeaderLoop(
      {
        api: consul.api,
        checkTtlS: 30,
        sleep: shortSleepsOnly,
        log: silentLogger(),
        lead: (signal) => {
          leads.push(signal);
          return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        },
      },
      stop.signal,
    );
    // The lock watch blocks after the index it saw.
    await vi_waitFor(() => leads.length === 1 && (consul.reads.at(-1) ?? 0) > 0);
    const before = consul.reads.length;
    const seen = consul.reads.at(-1);
    // Woken without a change, it asks the same index again; that read fails; the next one does not block.
    consul.failNextRead();
    await vi_waitFor(() => consul.reads.length >= before + 2);
    expect(consul.reads.slice(before, before + 2)).toEqual([seen, 0]);
    expect(leads[0]!.aborted).toBe(false);
    stop.abort();
    await run;
  });
});

async function vi_waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}
