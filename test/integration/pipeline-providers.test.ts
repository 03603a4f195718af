import { describe, it, expect, inject } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { exchange, parseServer } from '../../src/dns/transport.js';
import { decodeMessage } from '../../src/dns/wire-decode.js';
import { RRType } from '../../src/dns/wire.js';
import { sans, verifyAgainstPebble } from '../support/certs.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, cleanupAfterAll } from '../support/whisper.js';
import { writeChallHook } from '../support/exec-hook.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();

async function txtAt(addr: string, name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([addr]);
  try {
    return (await r.resolveTxt(name)).map((c) => c.join(''));
  } catch {
    return [];
  }
}

/** A UDP relay to `upstream` that records each question (`<name> <type>`): a --dns-resolver we can watch. */
async function startRecordingRelay(upstream: string): Promise<{ addr: string; asked: string[]; close(): Promise<void> }> {
  const socket = createSocket('udp4');
  const asked: string[] = [];
  socket.on('message', (msg, from) => {
    void (async () => {
      try {
        const q = decodeMessage(msg).questions[0];
        if (q) asked.push(`${q.name.toLowerCase().replace(/\.$/, '')} ${q.type}`);
        socket.send(await exchange(msg, parseServer(upstream), { timeoutMs: 3000 }), from.port, from.address);
      } catch {
        // dropped, as a lossy network would; the client asks again
      }
    })();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    addr: `127.0.0.1:${socket.address().port}`,
    asked,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

describe('pipeline through the other DNS providers', () => {
  it('rfc2136: a TSIG-signed update into BIND, checked on --dns-resolver, validated by Pebble, cleaned afterwards', async () => {
    const base = await mkdtemp(join(tmpdir(), 'whisper-rfc2136-'));
    dirs.push(base);
    const secretFile = join(base, 'tsig.secret');
    await writeFile(secretFile, env.bind.tsig.secret, { mode: 0o600 });
    const folder = join(base, 'certs');
    // A second resolver beside the environment's DNS front: propagation is checked on both, never on BIND itself.
    const relay = await startRecordingRelay(env.bind.addr);
    try {
      const w = startWhisper([folder, ...envArgs(env), '--dns-resolver', relay.addr, '--dns-provider', 'rfc2136', '--rfc2136-server', env.bind.addr,
        '--rfc2136-tsig-name', env.bind.tsig.name, '--rfc2136-tsig-algorithm', env.bind.tsig.algorithm,
        '--rfc2136-tsig-secret-file', secretFile, '--allow-domain', env.bind.zone, '--notify', `whisper-tests/${uniq()}`]);
      running.push(w);
      const name = `b${uniq()}`;
      await registerService(env, name, [`dns=${env.bind.zone}`, 'ssl=offloading']);
      const pem = await eventually('the rfc2136 certificate', () => fileOnce(join(folder, `${name}.${env.bind.zone}.pem`)));
      expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`${name}.${env.bind.zone}`]);
      expect(relay.asked).toContain(`_acme-challenge.${name}.${env.bind.zone} ${RRType.TXT}`);
      // Removed once the order is over, in the background: the file may come first.
      await eventually('the TXT record removed', async () => ((await txtAt(env.bind.addr, `_acme-challenge.${name}.${env.bind.zone}`)).length === 0 ? true : undefined));
      expect(w.output()).not.toContain(env.bind.tsig.secret);
      expect(await w.stop()).toBe(0);
    } finally {
      await relay.close();
    }
  });

  it('exec: a user hook publishes the record (here into challtestsrv)', async () => {
    const base = await mkdtemp(join(tmpdir(), 'whisper-exec-'));
    dirs.push(base);
    const { hook, calls } = await writeChallHook(base, env.challtestsrv.managementUrl);
    const zone = `x${uniq()}.exec.test`;
    const folder = join(base, 'certs');
    const w = startWhisper([folder, ...envArgs(env), '--dns-provider', 'exec', '--exec-command', hook, '--allow-domain', zone,
      '--notify', `whisper-tests/${uniq()}`]);
    running.push(w);
    await registerService(env, `svc-${uniq()}`, [`dns=${zone}`, 'vhost=one', 'vhost=two', 'https=443']);
    const pem = await eventually('the exec certificate', () => fileOnce(join(folder, `multi-hosts.${zone}.pem`)));
    expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`one.${zone}`, `two.${zone}`]);
    // The clean-up runs once the order is over, in the background: the file may come first.
    const log = await eventually('the clean-up hook call', async () => {
      const text = (await fileOnce(calls)) ?? '';
      return text.includes(`cleanup _acme-challenge.two.${zone}.`) ? text : undefined;
    });
    expect(log).toContain(`present _acme-challenge.one.${zone}.`);
    expect(await w.stop()).toBe(0);
  });
});
