import { describe, it, expect, inject, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createConsulApi, type ConsulApi } from '../../src/consul/api.js';
import { CatalogWatcher, type CatalogChange } from '../../src/consul/watcher.js';
import { createNotifier } from '../../src/consul/notify.js';
import { consulPorts, startConsul, type ConsulAgent } from '../support/consul.js';
import '../support/env-types.js';

const env = inject('env');
const tag = randomBytes(4).toString('hex');
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function register(httpAddr: string, name: string, tags: string[]): Promise<void> {
  const res = await fetch(`http://${httpAddr}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify({ ID: name, Name: name, Tags: tags, Port: 8443 }),
  });
  expect(res.ok, `register ${name} on ${httpAddr}`).toBe(true);
}

async function deregister(httpAddr: string, name: string): Promise<void> {
  await fetch(`http://${httpAddr}/v1/agent/service/deregister/${encodeURIComponent(name)}`, { method: 'PUT' });
}

/**
 * Collects a watcher's reports; `next(pred)` resolves with the first report from `from` on that matches.
 * The time limit only turns a hang into a readable failure.
 */
function recorder() {
  const changes: CatalogChange[] = [];
  const waiters: Array<{ from: number; pred: (c: CatalogChange) => boolean; resolve: (c: CatalogChange) => void }> = [];
  const onChange = (c: CatalogChange) => {
    changes.push(c);
    for (const w of [...waiters]) {
      if (w.pred(c)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(c);
      }
    }
  };
  const next = (what: string, pred: (c: CatalogChange) => boolean, from = 0): Promise<CatalogChange> => {
    const found = changes.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no catalog report: ${what}`)), 30_000);
      waiters.push({
        from,
        pred,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
    });
  };
  return { changes, onChange, next };
}

/** Counts failed catalog queries, and lets a test wait for the n-th. */
function countingFailures(api: ConsulApi) {
  let failures = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const counted = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      failures++;
      for (const w of waiters.filter((x) => failures >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      throw err;
    }
  };
  const wrapped: ConsulApi = {
    ...api,
    catalogServices: (q) => counted(() => api.catalogServices(q)),
  };
  return {
    api: wrapped,
    get failures() {
      return failures;
    },
    atLeast: (n: number) => (failures >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  };
}

describe('CatalogWatcher against a real Consul agent', () => {
  it('reports registrations, tag changes and deregistrations through blocking queries', async () => {
    const api = createConsulApi({ address: env.consul.httpAddr });
    const a = `whisper-it-a-${tag}`;
    const b = `whisper-it-b-${tag}`;
    cleanups.push(() => deregister(env.consul.httpAddr, a), () => deregister(env.consul.httpAddr, b));
    const rec = recorder();
    // A wait far longer than the time limit of `next`: each report must come from a blocking query waking up.
    const watcher = new CatalogWatcher({ api, wait: '5m', onChange: rec.onChange });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    try {
      const first = await rec.next('first answer', () => true);
      expect(first.reset).toBe(false);
      expect(first.changed).toEqual(new Set(first.services.keys()));
      expect(first.services.has('consul')).toBe(true);

      let mark = rec.changes.length;
      // No `dns=` tag: a whisper-ts daemon of another test watching this agent must not order certificates for these.
      await register(env.consul.httpAddr, a, ['vhost=www', 'role=web', 'https=443']);
      await register(env.consul.httpAddr, b, ['role=api', 'ssl=on']);
      const added = await rec.next('a and b registered', (c) => c.services.has(a) && c.services.has(b), mark);
      expect(added.services.get(a)).toEqual(['https=443', 'role=web', 'vhost=www']);
      const reportedAdded = rec.changes.slice(mark).flatMap((c) => [...c.changed]);
      expect(reportedAdded).toContain(a);
      expect(reportedAdded).toContain(b);

      mark = rec.changes.length;
      await register(env.consul.httpAddr, a, ['vhost=www2', 'role=web', 'https=443']);
      const retagged = await rec.next('a re-tagged', (c) => c.changed.has(a), mark);
      expect(retagged.changed.has(b)).toBe(false);
      expect(retagged.removed.size).toBe(0);
      expect(retagged.reset).toBe(false);
      expect(retagged.services.get(a)).toEqual(['https=443', 'role=web', 'vhost=www2']);

      mark = rec.changes.length;
      await deregister(env.consul.httpAddr, a);
      const removed = await rec.next('a deregistered', (c) => c.removed.has(a), mark);
      expect(removed.services.has(a)).toBe(false);
      expect(removed.services.has(b)).toBe(true);
      expect(removed.changed.has(b)).toBe(false);
      expect(watcher.lastSuccess).toBeTypeOf('number');
    } finally {
      ac.abort();
      await running;
      api.close?.();
    }
  });

  it('writes the notify key through the notifier, and kvGet reads it back', async () => {
    const api = createConsulApi({ address: env.consul.httpAddr });
    const key = `whisper-it/${tag}/updated`;
    cleanups.push(() => fetch(`http://${env.consul.httpAddr}/v1/kv/${key}`, { method: 'DELETE' }));
    try {
      expect(await api.kvGet(key)).toBeUndefined();
      const notifier = createNotifier({ api, key, intervalMs: 50 });
      notifier.changed(['www.example.test.pem']);
      notifier.changed(['multi-hosts.example.test.pem', 'www.example.test.pem']);
      await notifier.close();
      const value = JSON.parse((await api.kvGet(key))!) as { time: string; files: string[] };
      expect(value.files).toEqual(['multi-hosts.example.test.pem', 'www.example.test.pem']);
      expect(new Date(value.time).toISOString()).toBe(value.time);
      // Stored under the nested key, as `consul watch -type=key` and consul-template look it up.
      const raw = await fetch(`http://${env.consul.httpAddr}/v1/kv/${key}?raw`);
      expect(JSON.parse(await raw.text())).toEqual(value);
      expect(await api.leader()).toMatch(/:\d+$/);
    } finally {
      api.close?.();
    }
  });

  it('backs off while its agent is down, then starts over on the restarted agent\'s lower index', async () => {
    const ports = await consulPorts();
    const node = `whisper-it-restart-${tag}`;
    let agent: ConsulAgent = await startConsul({ dir: env.runDir, node, ports });
    cleanups.push(() => agent.stop());
    const before = `whisper-it-before-${tag}`;
    const after = `whisper-it-after-${tag}`;
    const filler = `whisper-it-filler-${tag}`;
    await register(agent.httpAddr, before, ['dns=example.test', 'ssl=on']);
    // Push the catalog's index well above where a fresh agent starts, so the restart moves it backwards.
    for (let i = 0; i < 40; i++) await register(agent.httpAddr, filler, [`n=${i}`]);

    const real = createConsulApi({ address: agent.httpAddr, timeoutMs: 5000 });
    const counted = countingFailures(real);
    const rec = recorder();
    const watcher = new CatalogWatcher({
      api: counted.api,
      wait: '5m',
      backoff: { baseMs: 100, maxMs: 1000 },
      onChange: rec.onChange,
    });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    try {
      await rec.next('the first agent\'s services', (c) => c.services.has(before) && c.services.get(filler)?.[0] === 'n=39');
      const oldIndex = (await real.catalogServices({})).index;

      const mark = rec.changes.length;
      const requestsBefore = watcher.requests;
      await agent.stop();
      await counted.atLeast(3);
      agent = await startConsul({ dir: env.runDir, node, ports });
      await register(agent.httpAddr, after, ['dns=example.test', 'ssl=on']);
      const freshIndex = (await real.catalogServices({})).index;
      expect(freshIndex, 'a fresh dev agent starts with a lower catalog index').toBeLessThan(oldIndex);

      const reset = await rec.next('a reset after the restart', (c) => c.reset, mark);
      expect(reset.services.has(before)).toBe(false);
      expect(reset.removed.has(before)).toBe(true);
      const withAfter = await rec.next('the service registered after the restart', (c) => c.services.has(after), mark);
      expect(withAfter.services.has(before)).toBe(false);
      expect(rec.changes.slice(mark).some((c) => c.changed.has(after))).toBe(true);

      // Backoff (100 ms doubling to 1 s) during the outage and the agent's start: a handful of queries, not a spin.
      const duringOutage = watcher.requests - requestsBefore;
      expect(counted.failures).toBeGreaterThanOrEqual(3);
      expect(duringOutage).toBeLessThan(25);
    } finally {
      ac.abort();
      await running;
      real.close?.();
      await agent.stop();
    }
  });
});
