import { describe, it, expect, inject } from 'vitest';
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { sans, verifyAgainstPebble } from '../support/certs.js';
import { daemonHarness } from '../support/harness.js';
import { eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const { daemon, folderAndZone, dnsArgs } = daemonHarness(env, 's');

/** A KV key as a URL path: each segment encoded, so spaces and `*` reach Consul as written. */
const kvPath = (key: string) => key.split('/').map(encodeURIComponent).join('/');

async function kvPut(key: string, value: string, query = ''): Promise<void> {
  const res = await fetch(`http://${env.consul.httpAddr}/v1/kv/${kvPath(key)}${query}`, { method: 'PUT', body: value });
  if (!res.ok) throw new Error(`PUT ${key}: ${res.status}`);
}

async function kvDelete(key: string): Promise<void> {
  const res = await fetch(`http://${env.consul.httpAddr}/v1/kv/${kvPath(key)}`, { method: 'DELETE' });
  if (!res.ok) throw new Error(`DELETE ${key}: ${res.status}`);
}

/** Puts several keys in one Consul transaction: the daemon sees them at one index. */
async function kvPutAll(entries: Record<string, string>): Promise<void> {
  const ops = Object.entries(entries).map(([Key, value]) => ({ KV: { Verb: 'set', Key, Value: Buffer.from(value).toString('base64') } }));
  const res = await fetch(`http://${env.consul.httpAddr}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops) });
  if (!res.ok) throw new Error(`txn: ${res.status} ${await res.text()}`);
}

async function setup() {
  const t = await folderAndZone();
  const prefix = `whisper-tests/static-${uniq()}`;
  const args = [t.folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...dnsArgs(t.zone), '-l', prefix];
  return { ...t, prefix, args };
}

const ordered = (w: WhisperProcess) => w.logs.filter((l) => l.msg === 'ordering certificate').map((l) => l.cert);

async function namesOf(file: string, count: number): Promise<string[]> {
  return eventually(`${file} with ${count} names`, async () => {
    const pem = await fileOnce(file);
    if (!pem) return undefined;
    const names = sans(await verifyAgainstPebble(env, pem));
    return names.length === count ? names : undefined;
  });
}

describe('static entries (-l, --listen-path)', () => {
  it('issues a certificate for a key put while running, joins SAN keys in the multi-host certificate, and drops a removed key', async () => {
    const t = await setup();
    const w = daemon(t.args);
    await eventually('the KV watcher to read the empty prefix', () => w.logs.find((l) => l.msg === 'Consul KV prefix changed' && l.listenPath === t.prefix));

    await kvPut(`${t.prefix}/${t.zone}/solo`, '');
    expect(await namesOf(join(t.folder, `solo.${t.zone}.pem`), 1)).toEqual([`solo.${t.zone}`]);

    await kvPutAll({ [`${t.prefix}/${t.zone}/alpha`]: 'SAN', [`${t.prefix}/${t.zone}/beta`]: ' SAN\n' });
    expect(await namesOf(join(t.folder, `multi-hosts.${t.zone}.pem`), 2)).toEqual([`alpha.${t.zone}`, `beta.${t.zone}`]);
    const issued = w.logs.find((l) => l.msg === 'certificate issued' && l.cert === `multi-hosts.${t.zone}`);
    expect(issued?.names).toEqual([`alpha.${t.zone}`, `beta.${t.zone}`]);

    // New flags, the same value: a new index (Consul ignores a write that changes nothing), no entry changed.
    const before = w.logs.length;
    await kvPut(`${t.prefix}/${t.zone}/solo`, '', '?flags=7');
    await eventually('the unchanged answer', () => w.logs.slice(before).find((l) => l.msg === 'Consul KV index moved, no entry changed'));

    await kvDelete(`${t.prefix}/${t.zone}/solo`);
    const dropped = await eventually('the removed key to leave the plan', () => w.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('no longer wanted') && l.cert === `solo.${t.zone}`));
    expect(dropped.level).toBe(30);
    expect(ordered(w).sort()).toEqual([`multi-hosts.${t.zone}`, `solo.${t.zone}`]);
    expect(w.child.exitCode).toBeNull();
    expect(await w.stop()).toBe(0);
  });

  it('skips hostile keys with a warning naming each, and issues the good one beside them', async () => {
    const t = await setup();
    const w = daemon(t.args);
    await eventually('the KV watcher to read the empty prefix', () => w.logs.find((l) => l.msg === 'Consul KV prefix changed' && l.listenPath === t.prefix));
    const bad = [
      [`${t.prefix}/${t.zone}/a b`, ''],
      [`${t.prefix}/${t.zone}/deep/er`, 'SAN'],
      [`${t.prefix}/${t.zone}`, ''],
      [`${t.prefix}/outside-allow-list.test/www`, ''],
      [`${t.prefix}/${t.zone}/*`, 'SAN'],
      [`${t.prefix}/${t.zone}/multi-hosts`, ''],
    ] as const;
    const good = `${t.prefix}/${t.zone}/good`;
    await kvPutAll({ ...Object.fromEntries(bad), [good]: '' });
    await eventually('the good certificate', () => fileOnce(join(t.folder, `good.${t.zone}.pem`)));
    for (const [key] of bad) {
      const line = await eventually(`a warning for ${key}`, () => w.logs.find((l) => l.level === 40 && l.service === `kv:${key}`));
      expect(String(line.msg)).toContain(JSON.stringify(`kv:${key}`));
    }
    expect(w.logs.find((l) => l.service === `kv:${t.prefix}/${t.zone}/*`)).toMatchObject({ code: 'DOMAIN_NOT_ALLOWED' });
    // Each once, although the plan changed after they appeared (the good certificate was issued).
    await kvPut(`${t.prefix}/${t.zone}/other`, '');
    await eventually('the second good certificate', () => fileOnce(join(t.folder, `other.${t.zone}.pem`)));
    for (const [key] of bad) expect(w.logs.filter((l) => l.level === 40 && l.service === `kv:${key}`), key).toHaveLength(1);
    expect(ordered(w).sort()).toEqual([`good.${t.zone}`, `other.${t.zone}`]);
    expect((await readdir(t.base)).sort()).toEqual(['certs']);
    expect(await w.stop()).toBe(0);
  });

  it('plans the entries present at start with the catalog: a certificate both ask for is ordered once, with every name', async () => {
    const t = await setup();
    await kvPut(`${t.prefix}/${t.zone}/static-vhost`, 'SAN');
    const shared = `shared-${uniq()}`;
    await kvPut(`${t.prefix}/${t.zone}/${shared}`, '');
    await registerService(env, `svc-${uniq()}`, [`dns=${t.zone}`, 'vhost=tagged', 'https=443']);
    await registerService(env, shared, [`dns=${t.zone}`, 'ssl=offloading']);
    const w = daemon(t.args);
    const multi = await namesOf(join(t.folder, `multi-hosts.${t.zone}.pem`), 2);
    expect(multi).toEqual([`static-vhost.${t.zone}`, `tagged.${t.zone}`]);
    await namesOf(join(t.folder, `${shared}.${t.zone}.pem`), 1);
    // One order each: the multi-host certificate was not first ordered with the catalog's name alone.
    expect(ordered(w).sort()).toEqual([`multi-hosts.${t.zone}`, `${shared}.${t.zone}`]);
    const planned = w.logs.find((l) => l.msg === 'certificate issued' && l.cert === `${shared}.${t.zone}`);
    expect(planned).toBeDefined();
    expect(await w.stop()).toBe(0);
  });

  it('--dryrun lists the static entries with the catalog\'s', async () => {
    const t = await setup();
    await kvPut(`${t.prefix}/${t.zone}/dry`, '');
    await kvPut(`${t.prefix}/${t.zone}/a b`, '');
    const args = t.args.map((a) => (a === env.pebble.directoryUrl ? 'https://127.0.0.1:9/directory' : a));
    const w = startWhisper([...args, '--dryrun']);
    expect(await w.exited).toBe(0);
    expect(w.output()).toContain(`would order  dry.${t.zone}.pem  [dry.${t.zone}]`);
    expect(w.output()).toContain(`services: kv:${t.prefix}/${t.zone}/dry`);
    expect(w.output()).toContain(`rejected     service "kv:${t.prefix}/${t.zone}/a b"`);
  });
});
