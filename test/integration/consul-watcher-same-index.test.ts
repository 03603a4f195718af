import { describe, it, expect, inject, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createConsulApi, type ConsulApi } from '../../src/consul/api.js';
import { CatalogWatcher, type CatalogChange } from '../../src/consul/watcher.js';
import { WhisperError } from '../../src/errors.js';
import { consulPorts, startConsul, type ConsulAgent } from '../support/consul.js';
import { eventually } from '../support/whisper.js';
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

async function catalogIndex(httpAddr: string): Promise<number> {
  const res = await fetch(`http://${httpAddr}/v1/catalog/services`);
  await res.arrayBuffer();
  return Number(res.headers.get('x-consul-index'));
}

/**
 * The real API behind a gate: while `closed`, every catalog query fails as if Consul were unreachable (the agent
 * restarting); records the index of every answer that passed.
 */
function gated(real: ConsulApi) {
  const gate = { closed: false, answers: [] as number[] };
  const api: ConsulApi = {
    ...real,
    async catalogServices(q) {
      if (gate.closed) throw new WhisperError('CONSUL_UNAVAILABLE', 'the test holds Consul unreachable', { retryable: true });
      const answer = await real.catalogServices(q);
      gate.answers.push(answer.index);
      return answer;
    },
  };
  return { api, gate };
}

describe('CatalogWatcher against a Consul agent restarted empty at the same index', () => {
  it('reports the service registered after the restart in its first read, though the index is the one it held', async () => {
    const ports = await consulPorts();
    const node = `whisper-it-same-index-${tag}`;
    let agent: ConsulAgent = await startConsul({ dir: env.runDir, node, ports });
    cleanups.push(() => agent.stop());
    const kept = `whisper-it-kept-${tag}`;
    const filler = `whisper-it-filler-${tag}`;
    const added = `whisper-it-added-${tag}`;
    // No `dns=` tag: nothing here asks for a certificate. 30 writes put the index well above a fresh agent's.
    await register(agent.httpAddr, kept, ['role=kept']);
    for (let i = 0; i < 30; i++) await register(agent.httpAddr, filler, [`n=${i}`]);

    const real = createConsulApi({ address: agent.httpAddr, timeoutMs: 5000 });
    const { api, gate } = gated(real);
    const changes: CatalogChange[] = [];
    const watcher = new CatalogWatcher({
      api,
      wait: '5m',
      backoff: { baseMs: 100, maxMs: 500 },
      onChange: (c) => void changes.push({ ...c, services: new Map(c.services) }),
    });
    const ac = new AbortController();
    const running = watcher.run(ac.signal);
    try {
      await eventually('the first agent\'s catalog', () => changes.some((c) => c.services.get(filler)?.[0] === 'n=29'), 30_000);
      const mark = changes.length;
      gate.closed = true;
      const held = gate.answers[gate.answers.length - 1]!;

      // A fresh dev agent's index moves one per write once it settled: register the new service, then write until
      // the index is the one the watcher holds. A write that lands beyond it (a background write in between) means
      // another restart.
      let index = 0;
      for (let attempt = 1; index !== held; attempt++) {
        if (attempt > 3) throw new Error(`a fresh agent never landed on index ${held} (last: ${index})`);
        await agent.stop();
        agent = await startConsul({ dir: env.runDir, node, ports });
        await register(agent.httpAddr, kept, ['role=kept']);
        await register(agent.httpAddr, added, ['role=added']);
        index = await catalogIndex(agent.httpAddr);
        for (let i = 0; index < held; i++) {
          await register(agent.httpAddr, filler, [`m=${i}`]);
          index = await catalogIndex(agent.httpAddr);
        }
      }
      const answered = gate.answers.length;
      gate.closed = false;

      // Without the fix, this read is dropped for its index and the next query blocks for its 5 minute wait.
      const report = await eventually('the service registered after the restart', () => changes.slice(mark).find((c) => c.changed.has(added)), 20_000);
      expect(gate.answers[answered], 'the first read after the restart is at the index held').toBe(held);
      expect(report.reset).toBe(false);
      expect(report.services.has(kept)).toBe(true);
      expect(report.changed.has(kept)).toBe(false);
    } finally {
      ac.abort();
      await running;
      real.close?.();
    }
  });
});
