import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createZone, verifyAgainstPebble } from '../support/certs.js';
import { startConsul, type ConsulAgent } from '../support/consul.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startPebble } from '../support/pebble.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import type { TestEnv } from '../support/env-types.js';
import '../support/env-types.js';

const env = inject('env');
const running: WhisperProcess[] = [];
const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(running.map((w) => w.stop()));
  for (const stop of stops) await stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Cluster {
  zone: string;
  base: string;
  consul: ConsulAgent;
  proxy: FaultProxy;
  /** The test environment with this cluster's own Pebble (to verify its certificates). */
  env: TestEnv;
  lockKey: string;
  prefix: string;
  folders: string[];
  procs: WhisperProcess[];
}

/** Two instances with --ha --store consul on their own Consul agent, ordering from Pebble through a proxy that counts requests. */
async function cluster(extra: (base: string) => Promise<string[]> = async () => []): Promise<Cluster> {
  const zone = `hs${uniq()}.whisper.test`;
  await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-ha-shared-'));
  dirs.push(base);
  const consul = await startConsul({ dir: base });
  stops.push(() => consul.stop());
  // A Pebble of its own: a leader killed mid-validation, re-ordered at once by the next, can deadlock Pebble's
  // store (letsencrypt/pebble#554) and with it every other test of the run.
  const pebble = await startPebble({ dir: base, name: `pebble-ha-${uniq()}`, dnsServer: env.dnsFront.addr });
  stops.push(() => pebble.stop());
  const proxy = await startFaultProxy(base, { url: new URL(pebble.directoryUrl).origin, caFile: pebble.tlsCaFile });
  stops.push(() => proxy.close());
  const lockKey = `whisper-tests/${zone}/leader`;
  const prefix = `whisper-tests/${zone}/certs`;
  const more = await extra(base);
  const folders = [0, 1].map((i) => join(base, `certs${i}`));
  const procs = folders.map((folder) => {
    const args = envArgs(env).map((a) =>
      a === env.pebble.directoryUrl ? `${proxy.url}/dir` : a === env.pebble.tlsCaFile ? proxy.caFile : a === env.consul.httpAddr ? consul.httpAddr : a,
    );
    const w = startWhisper([folder, ...args, '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone,
      '--notify', `whisper-tests/${zone}/updated`, '--ha', '--store', 'consul', '--lock-key', lockKey, '--store-prefix', prefix,
      '--session-ttl', '10', ...more]);
    running.push(w);
    return w;
  });
  const ownEnv: TestEnv = { ...env, pebble: { ...env.pebble, directoryUrl: pebble.directoryUrl, managementUrl: pebble.managementUrl, tlsCaFile: pebble.tlsCaFile } };
  return { zone, base, consul, proxy, env: ownEnv, lockKey, prefix, folders, procs };
}

const said = (w: WhisperProcess, msg: string) => w.logs.some((l) => l.msg === msg);

async function kv(c: Cluster, key: string): Promise<string | undefined> {
  const res = await fetch(`http://${c.consul.httpAddr}/v1/kv/${key}?raw`);
  return res.status === 404 ? undefined : res.text();
}

/** Pebble's newAccount URL path; 201 answers a created account, 200 an existing one. */
const NEW_ACCOUNT = '/sign-me-up';

const budgetTimes = (text: string | undefined): string[] => ((text ? JSON.parse(text) : { budget: [] }) as { budget: Array<{ at: string }> }).budget.map((e) => e.at);

describe('high availability: what leaders share in Consul KV', () => {
  it('a new leader uses the same ACME account and the budget history of the killed one', async () => {
    const c = await cluster();
    const consulEnv = { ...env, consul: { ...env.consul, httpAddr: c.consul.httpAddr } };
    const leader = await eventually('a leader', () => c.procs.find((w) => said(w, 'acquired leadership')), 30_000);
    const names = [0, 1].map((i) => `a${i}-${uniq()}`);
    for (const name of names) await registerService(consulEnv, name, [`dns=${c.zone}`, 'ssl=offloading']);
    const leaderFolder = c.folders[c.procs.indexOf(leader)]!;
    await eventually('both certificates at the leader', async () => {
      for (const n of names) if (!(await fileOnce(join(leaderFolder, `${n}.${c.zone}.pem`)))) return undefined;
      return true;
    }, 60_000);
    // The budget history of both orders reached KV.
    const history = await eventually('the state in KV', async () => {
      const times = budgetTimes(await kv(c, `${c.lockKey}/state`));
      return times.length >= names.length ? times : undefined;
    }, 10_000);
    const account = JSON.parse((await kv(c, `${c.lockKey}/account`))!) as { key: string; urls: Record<string, string> };
    expect(Object.values(account.urls)).toHaveLength(1);

    // The follower keeps a copy of the state and the account in its folder (for a leader after KV is lost): within
    // seconds its state file holds the budget events of KV's.
    const follower = c.procs.find((w) => w !== leader)!;
    const followerFolder = c.folders[c.procs.indexOf(follower)]!;
    const copied = await eventually('the follower\'s copy of the state', async () => {
      const shared = budgetTimes(await kv(c, `${c.lockKey}/state`));
      const local = budgetTimes(await fileOnce(join(followerFolder, '.whisper-state.json')));
      return local.length > 0 && JSON.stringify(local) === JSON.stringify(shared) ? local : undefined;
    }, 5_000);
    for (const at of history) expect(copied).toContain(at);
    const followerKey = await eventually('the follower\'s copy of the account', () => fileOnce(join(followerFolder, '.acme')), 5_000);
    expect(followerKey).toBe(account.key.endsWith('\n') ? account.key : `${account.key}\n`);
    expect(said(follower, 'acquired leadership')).toBe(false);

    leader.child.kill('SIGKILL');
    await leader.exited;
    const next = follower;
    await eventually('the other instance leads', () => said(next, 'acquired leadership') || undefined, 45_000);
    // The pipeline loads the state after the account: once the state is loaded, the account is too.
    await eventually('it loads the state from KV', () => said(next, 'state loaded from Consul KV') || undefined, 30_000);

    // One account at the CA for the whole cluster: the new leader registered none, nor looked one up.
    expect(c.proxy.seen.filter((r) => r.method === 'POST' && r.path === NEW_ACCOUNT && r.status === 201)).toHaveLength(1);
    expect(next.logs.filter((l) => l.msg === 'ACME account ready')).toEqual([]);
    // Its folder caches the cluster's account (status and a later run without --ha find it).
    const nextFolder = c.folders[c.procs.indexOf(next)]!;
    expect(await readFile(join(nextFolder, '.acme'), 'utf8')).toBe(account.key.endsWith('\n') ? account.key : `${account.key}\n`);
    expect(JSON.parse(await readFile(join(nextFolder, '.acme.json'), 'utf8'))).toMatchObject({ urls: account.urls });
    // And starts from the killed leader's budget history, not one rebuilt from its certificates.
    const cached = budgetTimes(await readFile(join(nextFolder, '.whisper-state.json'), 'utf8'));
    for (const at of history) expect(cached).toContain(at);
  }, 150_000);

  it('with --kv-encryption-key-file, KV holds no private key and the follower gets the decrypted certificate', async () => {
    const c = await cluster(async (base) => {
      const file = join(base, 'kv.keys');
      await writeFile(file, `k1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
      return ['--kv-encryption-key-file', file];
    });
    const consulEnv = { ...env, consul: { ...env.consul, httpAddr: c.consul.httpAddr } };
    const leader = await eventually('a leader', () => c.procs.find((w) => said(w, 'acquired leadership')), 30_000);
    const follower = c.procs.find((w) => w !== leader)!;
    const name = `e-${uniq()}`;
    await registerService(consulEnv, name, [`dns=${c.zone}`, 'ssl=offloading']);
    const id = `${name}.${c.zone}`;
    const copied = await eventually('the certificate in the follower\'s folder', () => fileOnce(join(c.folders[c.procs.indexOf(follower)]!, `${id}.pem`)), 60_000);
    await verifyAgainstPebble(c.env, copied);
    expect(copied).toContain('PRIVATE KEY');

    const value = (await kv(c, `${c.prefix}/${id}`))!;
    expect(value).toMatch(/^whisper-enc:v1:k1:/);
    expect(value).not.toContain('PRIVATE KEY');
    const account = (await kv(c, `${c.lockKey}/account`))!;
    expect(account).toMatch(/^whisper-enc:v1:k1:/);
    expect(account).not.toContain('PRIVATE KEY');
    // The follower's copy of the account is decrypted.
    const followerAccount = await eventually('the follower\'s copy of the account', () => fileOnce(join(c.folders[c.procs.indexOf(follower)]!, '.acme')), 5_000);
    expect(followerAccount).toContain('PRIVATE KEY');
    for (const w of c.procs) expect(w.logs.filter((l) => String(l.msg).includes('unencrypted'))).toEqual([]);
  }, 120_000);
});
