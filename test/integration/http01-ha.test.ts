import { describe, it, expect, inject } from 'vitest';
import { join } from 'node:path';
import { sans, verifyAgainstPebble } from '../support/certs.js';
import { daemonHarness } from '../support/harness.js';
import { freePort } from '../support/ports.js';
import { eventually, fileOnce, kvGet, registerService, uniq, type WhisperProcess } from '../support/whisper.js';
import { http01Args, http01World, responderRequests } from './http01-helpers.js';
import '../support/env-types.js';

const env = inject('env');
const h = daemonHarness(env, 'http01ha');
const leads = (w: WhisperProcess) => w.logs.some((l) => l.msg === 'acquired leadership');

describe('HTTP-01 under --ha', () => {
  it('the leader\'s order is validated through the follower\'s responder (tokens in Consul KV)', async () => {
    const world = await http01World(env, h.cleanups, 'hha');
    const lockKey = `whisper-tests/${world.zone}/leader`;
    const ports = [await freePort(), await freePort()];
    const procs = ports.map((port, i) =>
      h.daemon([...http01Args(env, world, join(world.base, `certs${i}`)), '--http01-listen', `127.0.0.1:${port}`,
        '--ha', '--lock-key', lockKey, '--check-ttl', '3', '--lock-delay', '4']),
    );
    const leader = await eventually('a leader', () => procs.find(leads), 30_000);
    const follower = procs.find((w) => w !== leader)!;
    const followerPort = ports[procs.indexOf(follower)]!;
    await eventually('both responders', () => procs.every((w) => w.logs.some((l) => l.msg === 'HTTP-01 responder listening')) || undefined, 30_000);
    // HAProxy knows only the follower: the CA's request can only be answered from Consul KV.
    await world.haproxy([`127.0.0.1:${followerPort}`]);

    const service = `web${uniq()}`;
    const name = `${service}.${world.zone}`;
    await registerService(env, service, [`dns=${world.zone}`, 'ssl=offloading']);
    const leaderFolder = join(world.base, `certs${procs.indexOf(leader)}`);
    const pem = await eventually('the certificate', () => fileOnce(join(leaderFolder, `${name}.pem`)), 90_000);
    expect(sans(await verifyAgainstPebble({ ...env, pebble: world.pebble }, pem))).toEqual([name]);
    expect(leads(follower)).toBe(false);

    const answered = responderRequests(follower).filter((r) => r.found);
    expect(answered.length).toBeGreaterThanOrEqual(1);
    expect(answered[0]!.host).toContain(name);
    expect(responderRequests(leader)).toEqual([]);
    // The token left Consul KV once the order was over.
    const token = answered[0]!.token;
    await eventually('the token gone from KV', async () => ((await kvGet(env, `${lockKey}/http01/${token}`)) === undefined ? true : undefined), 10_000);
    expect((await fetch(`http://127.0.0.1:${followerPort}/.well-known/acme-challenge/${token}`)).status).toBe(404);
  });
});
