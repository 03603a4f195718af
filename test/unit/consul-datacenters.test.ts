import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { DatacenterCatalog, datacenterOf, serviceKey, serviceNameOf } from '../../src/consul/datacenters.js';
import type { CatalogQuery, ConsulApi } from '../../src/consul/api.js';
import type { CatalogChange } from '../../src/consul/watcher.js';
import { WhisperError } from '../../src/errors.js';
import type { Sleep } from '../../src/time.js';

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 20; j++) await Promise.resolve();
    await new Promise<void>((r) => setImmediate(r));
  }
}

/** Sleeps that end only when the test advances the clock. */
function manualClock() {
  let t = 1_000_000;
  const pending: Array<{ at: number; resolve: () => void }> = [];
  const sleeps: number[] = [];
  const sleep: Sleep = (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new WhisperError('ABORTED', 'aborted'));
      sleeps.push(ms);
      const entry = { at: t + ms, resolve };
      pending.push(entry);
      signal?.addEventListener('abort', () => reject(new WhisperError('ABORTED', 'aborted')), { once: true });
    });
  const advance = async (ms: number) => {
    t += ms;
    for (const p of pending.splice(0).filter((e) => (e.at <= t ? (e.resolve(), false) : true))) pending.push(p);
    await settle();
  };
  return { sleep, now: () => t, advance, sleeps };
}

/** A Consul of several datacenters: each its own index and services; a datacenter `down` fails its queries. */
function fakeConsul(initial: Record<string, Record<string, string[]>>) {
  const dcs = new Map(Object.entries(initial).map(([dc, services]) => [dc, { index: 10, services, down: false }]));
  const listed = new Set(dcs.keys());
  const waiting = new Set<() => void>();
  const queries: CatalogQuery[] = [];
  const wake = () => {
    for (const w of [...waiting]) w();
  };
  const api: ConsulApi = {
    async catalogServices(q) {
      queries.push({ index: q.index, ...(q.dc !== undefined ? { dc: q.dc } : {}) });
      const dc = dcs.get(q.dc ?? '');
      if (!dc) throw new WhisperError('CONSUL_ERROR', 'No path to datacenter', { retryable: true });
      for (;;) {
        if (dc.down) throw new WhisperError('CONSUL_ERROR', `rpc error: connection refused (${q.dc})`, { retryable: true });
        if (!q.index || q.index < dc.index) return { index: dc.index, services: structuredClone(dc.services) };
        await new Promise<void>((resolve, reject) => {
          const done = () => {
            waiting.delete(done);
            resolve();
          };
          waiting.add(done);
          q.signal?.addEventListener('abort', () => reject(new WhisperError('ABORTED', 'aborted')), { once: true });
        });
      }
    },
    async datacenters() {
      return [...listed].sort();
    },
    async kvSet() {},
    async kvGet() {
      return undefined;
    },
    async leader() {
      return '127.0.0.1:8300';
    },
  };
  return {
    api,
    queries,
    set(dc: string, services: Record<string, string[]>) {
      const d = dcs.get(dc);
      if (!d) dcs.set(dc, { index: 10, services, down: false });
      else Object.assign(d, { index: d.index + 1, services });
      wake();
    },
    down(dc: string, down: boolean) {
      dcs.get(dc)!.down = down;
      wake();
    },
    list(dc: string, on: boolean) {
      if (on) listed.add(dc);
      else listed.delete(dc);
    },
  };
}

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function start(consul: ReturnType<typeof fakeConsul>, datacenters: string[], refreshMs = 60_000, failCall?: number) {
  let calls = 0;
  const clock = manualClock();
  const { log, lines } = capturingLog();
  const changes: Array<{ services: Map<string, readonly string[]>; changed: string[]; removed: string[]; reset: boolean }> = [];
  const catalog = new DatacenterCatalog({
    api: consul.api,
    datacenters,
    refreshMs,
    wait: '30s',
    minIntervalMs: 0,
    sleep: clock.sleep,
    now: clock.now,
    random: () => 0.5,
    log,
    onChange: (c: CatalogChange) => {
      if (++calls === failCall) throw new Error('planner failed');
      changes.push({ services: new Map(c.services), changed: [...c.changed].sort(), removed: [...c.removed].sort(), reset: c.reset });
    },
  });
  const ac = new AbortController();
  const running = catalog.run(ac.signal);
  const stop = async () => {
    ac.abort();
    await running;
  };
  return { catalog, clock, changes, lines, stop };
}

describe('service keys of the merged catalog', () => {
  it('are <service>@<dc>, split back at the last @', () => {
    expect(serviceKey('web', 'dc2')).toBe('web@dc2');
    expect(serviceNameOf('web@dc2')).toBe('web');
    expect(serviceNameOf('odd@name@dc2')).toBe('odd@name');
    expect(datacenterOf('odd@name@dc2')).toBe('dc2');
  });
});

describe('DatacenterCatalog', () => {
  it('watches each datacenter with ?dc= and its own index, and reports the union once all answered', async () => {
    const consul = fakeConsul({ dc1: { web: ['ssl=on'] }, dc2: { web: ['ssl=on'], api: ['x'] } });
    const run = start(consul, ['dc1', 'dc2']);
    await settle();
    expect(run.changes).toHaveLength(1);
    expect(run.changes[0]).toMatchObject({ changed: ['api@dc2', 'web@dc1', 'web@dc2'], removed: [], reset: true });
    expect(run.changes[0]!.services.get('web@dc2')).toEqual(['ssl=on']);
    expect(run.catalog.datacenters).toEqual(['dc1', 'dc2']);
    // First query of each without blocking, then each blocks on its own index.
    expect(consul.queries.filter((q) => q.dc === 'dc1').map((q) => q.index)).toEqual([0, 10]);
    expect(consul.queries.every((q) => q.dc !== undefined)).toBe(true);

    consul.set('dc2', { web: ['ssl=on'] });
    await settle();
    expect(run.changes[1]).toMatchObject({ changed: [], removed: ['api@dc2'], reset: false });
    expect([...run.changes[1]!.services.keys()].sort()).toEqual(['web@dc1', 'web@dc2']);
    await run.stop();
  });

  it('one unreachable datacenter holds no other up, and says so in the log', async () => {
    const consul = fakeConsul({ dc1: { web: ['a'] }, dc2: { api: ['b'] } });
    consul.down('dc2', true);
    const run = start(consul, ['dc1', 'dc2']);
    await settle();
    // The first report comes once dc2's first query failed, with what dc1 has.
    expect(run.changes).toHaveLength(1);
    expect(run.changes[0]!.changed).toEqual(['web@dc1']);
    const warned = run.lines.find((l) => String(l.msg).includes('datacenter dc2 unreachable'));
    expect(warned).toMatchObject({ datacenter: 'dc2' });

    // dc1 changes while dc2 backs off: reported at once.
    consul.set('dc1', { web: ['a'], www: ['c'] });
    await settle();
    expect(run.changes[1]).toMatchObject({ changed: ['www@dc1'], removed: [] });

    // dc2 comes back after its backoff: its services join.
    consul.down('dc2', false);
    await run.clock.advance(60_000);
    expect(run.changes.at(-1)).toMatchObject({ changed: ['api@dc2'] });
    expect(run.lines.some((l) => String(l.msg).includes('Consul catalog of datacenter dc2 reachable again'))).toBe(true);
    await run.stop();
  });

  it('keeps the last known services of a datacenter that became unreachable', async () => {
    const consul = fakeConsul({ dc1: { web: ['a'] }, dc2: { api: ['b'] } });
    const run = start(consul, ['dc1', 'dc2']);
    await settle();
    consul.down('dc2', true);
    await settle();
    consul.set('dc1', { web: ['a2'] });
    await settle();
    expect(run.changes.at(-1)!.services.get('api@dc2')).toEqual(['b']);
    expect(run.changes.flatMap((c) => c.removed)).toEqual([]);
    await run.stop();
  });

  it('all: watches every listed datacenter, picks up one joining and drops one leaving at the next refresh', async () => {
    const consul = fakeConsul({ dc1: { web: ['a'] }, dc2: { api: ['b'] }, dc3: { db: ['c'] } });
    consul.list('dc3', false);
    const run = start(consul, ['all'], 30_000);
    await settle();
    expect(run.catalog.datacenters).toEqual(['dc1', 'dc2']);
    expect(run.changes[0]!.changed).toEqual(['api@dc2', 'web@dc1']);

    consul.list('dc3', true);
    await run.clock.advance(30_000);
    expect(run.catalog.datacenters).toEqual(['dc1', 'dc2', 'dc3']);
    expect(run.changes.at(-1)).toMatchObject({ changed: ['db@dc3'], removed: [], reset: false });

    consul.list('dc2', false);
    await run.clock.advance(30_000);
    expect(run.catalog.datacenters).toEqual(['dc1', 'dc3']);
    expect(run.changes.at(-1)).toMatchObject({ changed: [], removed: ['api@dc2'] });
    expect([...run.changes.at(-1)!.services.keys()].sort()).toEqual(['db@dc3', 'web@dc1']);
    expect(run.lines.some((l) => l.datacenter === 'dc2' && String(l.msg).includes('left the WAN'))).toBe(true);
    await run.stop();
  });

  it('all plus a named datacenter watches both, the named one even when not listed', async () => {
    const consul = fakeConsul({ dc1: { web: ['a'] }, dc9: { x: ['y'] } });
    consul.list('dc9', false);
    const run = start(consul, ['all', 'dc9']);
    await settle();
    expect(run.catalog.datacenters).toEqual(['dc1', 'dc9']);
    await run.clock.advance(60_000);
    expect(run.catalog.datacenters).toEqual(['dc1', 'dc9']);
    await run.stop();
  });

  it('stops every watcher when aborted, and refuses bad names', async () => {
    const consul = fakeConsul({ dc1: {} });
    const run = start(consul, ['dc1']);
    await settle();
    await run.stop();
    expect(() => new DatacenterCatalog({ api: consul.api, datacenters: ['dc@1'], onChange: () => undefined })).toThrow(/invalid datacenter/);
    expect(() => new DatacenterCatalog({ api: consul.api, datacenters: [], onChange: () => undefined })).toThrow(/no datacenter/);
  });

  it('after a failed onChange, the next one carries the whole merged catalog with reset', async () => {
    const consul = fakeConsul({ dc1: { web: ['a'] }, dc2: { api: ['b'] } });
    const run = start(consul, ['dc1', 'dc2'], 60_000, 2);
    await settle();
    consul.set('dc1', { web: ['a'], www: ['c'] });
    await settle();
    expect(run.changes).toHaveLength(1);
    expect(run.lines.some((l) => String(l.msg).includes('handling a Consul catalog change failed'))).toBe(true);
    consul.set('dc2', { api: ['b2'] });
    await settle();
    expect(run.changes.at(-1)).toMatchObject({ changed: ['api@dc2', 'web@dc1', 'www@dc1'], reset: true });
    await run.stop();
  });

  it('lastSuccess is the latest answer of any datacenter', async () => {
    const consul = fakeConsul({ dc1: {}, dc2: {} });
    consul.down('dc2', true);
    const run = start(consul, ['dc1', 'dc2']);
    expect(run.catalog.lastSuccess).toBeUndefined();
    await settle();
    expect(run.catalog.lastSuccess).toBe(run.clock.now());
    await run.stop();
  });
});
