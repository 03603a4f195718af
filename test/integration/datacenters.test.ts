import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { consulPorts } from '../support/consul.js';
import { binaries } from '../support/paths.js';
import { startProcess, type ServerProcess } from '../support/proc.js';
import { createZone, sans, verifyAgainstPebble } from '../support/certs.js';
import { eventually, fileOnce, registerService, startWhisper, uniq, BIN, type WhisperProcess } from '../support/whisper.js';
import type { TestEnv } from '../support/env-types.js';
import '../support/env-types.js';

const env = inject('env');
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A dev server of its own datacenter; with `joinWan`, joined over the WAN to the server whose Serf WAN address it is. */
async function startDatacenter(dc: string, joinWan?: string): Promise<{ proc: ServerProcess; httpAddr: string; serfWanAddr: string }> {
  const ports = await consulPorts();
  const node = `whisper-${dc}-${uniq()}`;
  const dir = join(env.runDir, node);
  await mkdir(dir, { recursive: true });
  const httpAddr = `127.0.0.1:${ports.http}`;
  const args = ['agent', '-dev', `-datacenter=${dc}`, `-node=${node}`, '-bind=127.0.0.1', '-client=127.0.0.1', `-http-port=${ports.http}`,
    `-server-port=${ports.server}`, `-serf-lan-port=${ports.serfLan}`, `-serf-wan-port=${ports.serfWan}`, '-dns-port=-1', '-grpc-port=-1',
    '-grpc-tls-port=-1', '-log-level=warn', ...(joinWan ? [`-retry-join-wan=${joinWan}`] : [])];
  const proc = await startProcess({
    name: `consul ${dc}`,
    command: binaries().consul,
    args,
    logFile: join(dir, 'consul.log'),
    ready: async () => {
      const res = await fetch(`http://${httpAddr}/v1/status/leader`, { signal: AbortSignal.timeout(2000) });
      const leader = (await res.json()) as unknown;
      return res.ok && typeof leader === 'string' && leader.length > 0;
    },
  });
  cleanups.push(() => proc.stop());
  return { proc, httpAddr, serfWanAddr: `127.0.0.1:${ports.serfWan}` };
}

const agentEnv = (httpAddr: string): TestEnv => ({ ...env, consul: { httpAddr, serfLanAddr: '' } });

let dc1: Awaited<ReturnType<typeof startDatacenter>>;
let dc2: Awaited<ReturnType<typeof startDatacenter>>;

beforeAll(async () => {
  dc1 = await startDatacenter('dc1');
  dc2 = await startDatacenter('dc2', dc1.serfWanAddr);
  // WAN-joined: dc1's servers list dc2 and answer its catalog.
  await eventually('dc1 to reach dc2 over the WAN', async () => {
    const res = await fetch(`http://${dc1.httpAddr}/v1/catalog/services?dc=dc2`).catch(() => undefined);
    return res?.ok === true ? true : undefined;
  });
}, 120_000);

async function setup(prefix: string) {
  const zone = `${prefix}${uniq()}.whisper.test`;
  await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-datacenters-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  const args = (...more: string[]) => [join(base, 'certs'), '--consul', dc1.httpAddr, '--dns-resolver', env.dnsFront.addr, '--dns-provider', 'route53',
    '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone, '--notify', `whisper-tests/${zone}`,
    '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...more];
  return { zone, folder: join(base, 'certs'), args };
}

function daemon(args: string[]): WhisperProcess {
  const w = startWhisper(args);
  cleanups.push(() => w.stop());
  return w;
}

async function issued(file: string, name: string): Promise<void> {
  const names = await eventually(`${file}`, async () => {
    const pem = await fileOnce(file);
    return pem ? sans(await verifyAgainstPebble(env, pem)) : undefined;
  });
  expect(names).toEqual([name]);
}

describe('--datacenter (two Consul datacenters joined over the WAN)', () => {
  it('the dry run lists each datacenter\'s services, one certificate for a service in both', async () => {
    const t = await setup('dd');
    const u = uniq();
    const tags = [`dns=${t.zone}`, 'ssl=true'];
    await registerService(agentEnv(dc1.httpAddr), `both-${u}`, tags);
    await registerService(agentEnv(dc2.httpAddr), `both-${u}`, tags);
    await registerService(agentEnv(dc2.httpAddr), `far-${u}`, tags);
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, ...t.args('--dryrun', '--datacenter', 'all')], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    });
    const lines = stdout.split('\n');
    const both = lines.filter((l) => l.includes(`both-${u}.${t.zone}.pem`));
    expect(both).toHaveLength(1);
    expect(both[0]).toContain(`services: both-${u}@dc1, both-${u}@dc2`);
    expect(lines.some((l) => l.includes(`far-${u}.${t.zone}.pem`) && l.includes(`services: far-${u}@dc2`))).toBe(true);
  });

  it('--datacenter dc2 issues for dc2\'s services, through dc1\'s agent, and not for dc1\'s', async () => {
    const t = await setup('dc');
    const u = uniq();
    await registerService(agentEnv(dc2.httpAddr), `west-${u}`, [`dns=${t.zone}`, 'ssl=true']);
    await registerService(agentEnv(dc1.httpAddr), `east-${u}`, [`dns=${t.zone}`, 'ssl=true']);
    const w = daemon(t.args('--datacenter', 'dc2'));
    await issued(join(t.folder, `west-${u}.${t.zone}.pem`), `west-${u}.${t.zone}`);
    expect(await fileOnce(join(t.folder, `east-${u}.${t.zone}.pem`))).toBeUndefined();
    expect(w.logs.some((l) => l.msg === 'watching the Consul catalogs of these datacenters' && JSON.stringify(l.datacenters) === '["dc2"]')).toBe(true);
    expect(await w.stop()).toBe(0);
  });

  it('--datacenter all issues for both; with dc2 stopped, dc1 goes on and the log says dc2 is unreachable', async () => {
    const t = await setup('da');
    const u = uniq();
    await registerService(agentEnv(dc1.httpAddr), `east-${u}`, [`dns=${t.zone}`, 'ssl=true']);
    await registerService(agentEnv(dc2.httpAddr), `west-${u}`, [`dns=${t.zone}`, 'ssl=true']);
    await registerService(agentEnv(dc1.httpAddr), `both-${u}`, [`dns=${t.zone}`, 'ssl=true']);
    await registerService(agentEnv(dc2.httpAddr), `both-${u}`, [`dns=${t.zone}`, 'ssl=true']);
    const w = daemon(t.args('--datacenter', 'all'));
    await issued(join(t.folder, `east-${u}.${t.zone}.pem`), `east-${u}.${t.zone}`);
    await issued(join(t.folder, `west-${u}.${t.zone}.pem`), `west-${u}.${t.zone}`);
    await issued(join(t.folder, `both-${u}.${t.zone}.pem`), `both-${u}.${t.zone}`);
    // The same service and tags in both datacenters: one certificate, ordered once.
    expect(w.logs.filter((l) => l.msg === 'ordering certificate' && l.cert === `both-${u}.${t.zone}`)).toHaveLength(1);

    await dc2.proc.stop();
    await eventually('dc2 to be reported unreachable', () =>
      w.logs.find((l) => l.datacenter === 'dc2' && typeof l.msg === 'string' && l.msg.startsWith('datacenter dc2 unreachable')),
    );
    await registerService(agentEnv(dc1.httpAddr), `late-${u}`, [`dns=${t.zone}`, 'ssl=true']);
    await issued(join(t.folder, `late-${u}.${t.zone}.pem`), `late-${u}.${t.zone}`);
    // dc2's last known services stay wanted: nothing was dropped.
    expect(w.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('no longer wanted'))).toBe(false);
    expect(w.child.exitCode).toBeNull();
    expect(await w.stop()).toBe(0);
  });
});
