import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startConsul, consulPorts, type ConsulAgent } from '../support/consul.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { createZone, verifyAgainstPebble } from '../support/certs.js';
import { eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import type { TestEnv } from '../support/env-types.js';
import '../support/env-types.js';

const env = inject('env');
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** The shared environment, but with this test's own Consul agent (for the helpers that take a TestEnv). */
function withConsul(agent: ConsulAgent): TestEnv {
  return { ...env, consul: { httpAddr: agent.httpAddr, serfLanAddr: agent.serfLanAddr } };
}

async function ownConsul(ports: Awaited<ReturnType<typeof consulPorts>>, node: string): Promise<ConsulAgent> {
  const agent = await startConsul({ dir: env.runDir, ports, node });
  cleanups.push(() => agent.stop());
  return agent;
}

async function setup(prefix: string) {
  const zone = `${prefix}${uniq()}.whisper.test`;
  await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-faults-consul-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  return { zone, folder: join(base, 'certs') };
}

function daemon(consulAddr: string, zone: string, folder: string, acme: string[]): WhisperProcess {
  const w = startWhisper([folder, '--consul', consulAddr, '--dns-resolver', env.dnsFront.addr, '--dns-provider', 'route53',
    '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone, '--notify', `whisper-tests/${zone}`, ...acme]);
  cleanups.push(() => w.stop());
  return w;
}

const pebbleArgs = () => ['--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile];
const failedQueries = (w: WhisperProcess) =>
  w.logs.filter((l) => l.component === 'watcher' && typeof l.msg === 'string' && l.msg.startsWith('Consul catalog query failed'));

/** Waits until the watcher has a blocking query open on Consul (its first answer came, and a little time passed). */
async function watching(w: WhisperProcess): Promise<void> {
  await eventually('the watcher to read the catalog', () => w.logs.some((l) => l.msg === 'Consul catalog changed'));
  // The next query is sent 100 ms (minIntervalMs) after the answer, and then blocks for minutes.
  await sleep(500);
}

describe('Consul faults', () => {
  it('backs off while the agent is killed, resumes on its restart, and issues for a service registered after it', async () => {
    const t = await setup('ck');
    const ports = await consulPorts();
    const node = `whisper-kill-${uniq()}`;
    const first = await ownConsul(ports, node);
    const w = daemon(first.httpAddr, t.zone, t.folder, pebbleArgs());
    await watching(w);
    expect(failedQueries(w)).toEqual([]);

    process.kill(-first.process.pid, 'SIGKILL');
    await first.process.exited;
    await sleep(5000);
    const failedWhileDown = failedQueries(w).length;
    const second = await ownConsul(ports, node);

    // Backing off, not spinning: 250 ms doubling gives about 5 attempts in 5 s; a tight loop would make hundreds.
    expect(failedWhileDown).toBeGreaterThanOrEqual(2);
    expect(failedWhileDown).toBeLessThanOrEqual(8);
    const delays = failedQueries(w).map((l) => Number(l.delayMs));
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);

    await eventually('the watcher to reach Consul again', () => w.logs.some((l) => l.msg === 'Consul catalog reachable again'), 30_000);
    const name = `after-${uniq()}`;
    await registerService(withConsul(second), name, [`dns=${t.zone}`, 'ssl=offloading']);
    const pem = await eventually('the certificate of the service registered after the restart', () => fileOnce(join(t.folder, `${name}.${t.zone}.pem`)));
    await verifyAgainstPebble(env, pem);
    // Nothing more failed once Consul was back.
    expect(failedQueries(w).length).toBeLessThanOrEqual(failedWhileDown + 1);
    expect(await w.stop()).toBe(0);
  });

  it('re-reads everything when the index goes backwards (a fresh agent) and orders nothing twice', async () => {
    const proxy = await startFaultProxy(env.runDir, { url: new URL(env.pebble.directoryUrl).origin, caFile: env.pebble.tlsCaFile });
    cleanups.push(() => proxy.close());
    // Orders the CA created: a POST refused for a bad nonce (Pebble rejects some on purpose) is retried, not an order.
    const orders = () => proxy.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/order-plz') && s.status === 201).length;
    const t = await setup('cr');
    const ports = await consulPorts();
    const node = `whisper-reset-${uniq()}`;
    const first = await ownConsul(ports, node);
    const w = daemon(first.httpAddr, t.zone, t.folder, ['--directory-url', `${proxy.url}/dir`, '--ca-bundle', proxy.caFile]);
    await watching(w);

    const names = [`a-${uniq()}`, `b-${uniq()}`];
    const file = (name: string) => join(t.folder, `${name}.${t.zone}.pem`);
    for (const name of names) await registerService(withConsul(first), name, [`dns=${t.zone}`, 'ssl=offloading']);
    for (const name of names) await eventually(`the certificate of ${name}`, () => fileOnce(file(name)));
    expect(orders()).toBe(2);

    // Push the old agent's catalog index well above what a fresh agent starts with, so the restart moves it back.
    for (let i = 0; i < 20; i++) {
      await registerService(withConsul(first), `churn-${i}`, []);
      await fetch(`http://${first.httpAddr}/v1/agent/service/deregister/churn-${i}`, { method: 'PUT' });
    }
    await first.stop();
    // A dev agent keeps its catalog in memory: the new one starts empty, at a low index.
    const second = await ownConsul(ports, node);
    await eventually('the watcher to see the index go backwards', () =>
      w.logs.some((l) => l.msg === 'Consul catalog index went backwards; re-reading the whole catalog'), 30_000);

    // The services come back (as their agents re-register them), plus a new one.
    const added = `c-${uniq()}`;
    for (const name of [...names, added]) await registerService(withConsul(second), name, [`dns=${t.zone}`, 'ssl=offloading']);
    await verifyAgainstPebble(env, await eventually(`the certificate of ${added}`, () => fileOnce(file(added))));
    // The re-read checked the certificates already in the folder, and found them valid.
    const reset = w.logs.findIndex((l) => l.msg === 'Consul catalog index went backwards; re-reading the whole catalog');
    const checked = () => new Set(w.logs.slice(reset).filter((l) => l.msg === 'certificate present and valid; nothing to order').map((l) => l.cert));
    await eventually('the existing certificates to be checked again', () => names.every((n) => checked().has(`${n}.${t.zone}`)));
    // Only the new service was ordered.
    expect(orders()).toBe(3);
    expect(w.logs.filter((l) => l.msg === 'ordering certificate').map((l) => l.cert).sort()).toEqual(
      [...names, added].map((n) => `${n}.${t.zone}`).sort(),
    );
    expect(await w.stop()).toBe(0);
  });
});
