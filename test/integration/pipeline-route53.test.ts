import { describe, it, expect, inject } from 'vitest';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHaproxy, fetchServedCert } from '../support/haproxy.js';
import { pebbleRoot } from '../support/pebble.js';
import { createZone, sans, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import {
  deregisterService, envArgs, eventually, fileOnce, kvGet, registerService, startWhisper, uniq, type WhisperProcess, cleanupAfterAll } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();

async function setup() {
  const zone = `z${uniq()}.whisper.test`;
  const zoneId = await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-pipeline-'));
  dirs.push(base);
  const folder = join(base, 'certs');
  const notify = `whisper-tests/${zone}`;
  const args = [folder, ...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint,
    '--allow-domain', zone, '--notify', notify];
  return { zone, zoneId, base, folder, notify, args };
}

function start(args: string[]): WhisperProcess {
  const w = startWhisper(args);
  running.push(w);
  return w;
}

const ordered = (w: WhisperProcess) => w.logs.filter((l) => l.msg === 'ordering certificate');

describe('pipeline through Route53', () => {
  it('issues a single-host certificate, notifies, and HAProxy serves it; the TXT record is gone', async () => {
    const t = await setup();
    const w = start(t.args);
    const name = `web-${uniq()}`;
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
    const file = join(t.folder, `${name}.${t.zone}.pem`);
    const pem = await eventually(`${file}`, () => fileOnce(file));
    const leaf = await verifyAgainstPebble(env, pem);
    expect(sans(leaf)).toEqual([`${name}.${t.zone}`]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(t.folder)).mode & 0o777).toBe(0o700);
    const note = await eventually('notify key', () => kvGet(env, t.notify));
    expect(JSON.parse(note).files).toContain(`${name}.${t.zone}.pem`);
    // Removed once the order is over, in the background: the file may come first.
    await eventually('the TXT record removed', async () =>
      [...(await zoneTxt(env, t.zoneId)).keys()].some((n) => n.startsWith('_acme-challenge')) ? undefined : true,
    );
    const issued = w.logs.find((l) => l.msg === 'certificate issued');
    expect(issued?.cert).toBe(`${name}.${t.zone}`);

    const haproxy = await startHaproxy(t.base, t.folder);
    try {
      const served = await fetchServedCert(haproxy.port, `${name}.${t.zone}`, await pebbleRoot(env.pebble) + (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).slice(1).join('\n'));
      expect(served.serialNumber).toBe(leaf.serialNumber);
    } finally {
      await haproxy.stop();
    }
    expect(await w.stop()).toBe(0);
  });

  it('puts every vhost of a zone in one multi-host certificate, reissued when one is added; restart orders nothing', async () => {
    const t = await setup();
    const w = start(t.args);
    const vhosts = ['alpha', 'beta', 'gamma'];
    for (const v of vhosts) await registerService(env, `svc-${v}-${uniq()}`, [`dns=${t.zone}`, `vhost=${v}`, 'https=443']);
    const file = join(t.folder, `multi-hosts.${t.zone}.pem`);
    const three = vhosts.map((v) => `${v}.${t.zone}`).sort();
    const first = await eventually('three names', async () => {
      const pem = await fileOnce(file);
      return pem && sans(await verifyAgainstPebble(env, pem)).length === 3 ? pem : undefined;
    });
    expect(sans(await verifyAgainstPebble(env, first))).toEqual(three);

    await registerService(env, `svc-delta-${uniq()}`, [`dns=${t.zone}`, 'vhost=delta', 'ssl=offloading']);
    const four = await eventually('four names', async () => {
      const pem = await fileOnce(file);
      return pem && sans(await verifyAgainstPebble(env, pem)).length === 4 ? pem : undefined;
    });
    expect(sans(await verifyAgainstPebble(env, four))).toEqual([...three, `delta.${t.zone}`].sort());
    expect(await w.stop()).toBe(0);
    const serial = (await verifyAgainstPebble(env, await readFile(file, 'utf8'))).serialNumber;

    // Restart on the same folder: the certificate is valid for the same names, so nothing is ordered.
    const again = start(t.args);
    await eventually('the restarted daemon to check the certificate', () =>
      again.logs.find((l) => l.cert === `multi-hosts.${t.zone}` && l.msg === 'certificate present and valid; nothing to order'),
    );
    expect(ordered(again)).toEqual([]);
    expect((await verifyAgainstPebble(env, await readFile(file, 'utf8'))).serialNumber).toBe(serial);

    // Deregistering keeps the file and the daemon.
    const services = (await (await fetch(`http://${env.consul.httpAddr}/v1/catalog/services`)).json()) as Record<string, string[]>;
    for (const s of Object.keys(services).filter((n) => n.startsWith('svc-delta-'))) await deregisterService(env, s);
    await eventually('the removal to be seen', () => again.logs.find((l) => l.msg === 'certificate no longer wanted; its file is kept' || l.msg === 'ordering certificate'));
    expect(await fileOnce(file)).toBeDefined();
    expect(again.child.exitCode).toBeNull();
    expect(await again.stop()).toBe(0);
  });

  it('rejects hostile tags with a log line naming the service and tag, and writes nothing outside the folder', async () => {
    const t = await setup();
    const w = start(t.args);
    const bad = [
      { name: `evil-${uniq()}`, tags: [`dns=${t.zone}`, 'vhost=../../etc/passwd', 'https=443'] },
      { name: `evil-${uniq()}`, tags: [`dns=${t.zone}`, `vhost=${'a'.repeat(64)}`, 'https=443'] },
      { name: `evil-${uniq()}`, tags: ['dns=outside-allow-list.test', 'ssl=offloading'] },
      { name: `evil-${uniq()}`, tags: [`dns=${t.zone}/..`, 'ssl=offloading'] },
      // A zone-wide wildcard needs --allow-wildcard: anyone who can register a service could ask for it.
      { name: `evil-${uniq()}`, tags: [`dns=${t.zone}`, 'vhost=*', 'vhost=www', 'https=443'] },
    ];
    for (const b of bad) await registerService(env, b.name, b.tags);
    const good = `good-${uniq()}`;
    await registerService(env, good, [`dns=${t.zone}`, 'ssl=offloading']);
    await eventually('the good certificate', () => fileOnce(join(t.folder, `${good}.${t.zone}.pem`)));
    for (const b of bad) {
      const line = await eventually(`a warning for ${b.name}`, () => w.logs.find((l) => l.level === 40 && String(l.service).includes(b.name)));
      expect(String(line.tag)).toMatch(/^(dns|vhost)=/);
    }
    const wildcard = w.logs.find((l) => l.level === 40 && l.tag === 'vhost=*');
    expect(wildcard).toMatchObject({ service: bad[4]!.name, code: 'DOMAIN_NOT_ALLOWED' });
    expect(String(wildcard?.msg)).toContain('--allow-wildcard');
    expect((await readdir(t.base)).sort()).toEqual(['certs']);
    expect((await readdir(t.folder)).filter((f) => !f.startsWith('.'))).toEqual([`${good}.${t.zone}.pem`]);
    expect(ordered(w).map((l) => l.cert)).toEqual([`${good}.${t.zone}`]);
    expect(await w.stop()).toBe(0);
  });

  it('--dryrun prints the plan and makes no order, no DNS change, no folder', async () => {
    const t = await setup();
    const name = `dry-${uniq()}`;
    await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
    const before = await zoneTxt(env, t.zoneId);
    // An unreachable CA: any contact would fail the run.
    const args = t.args.map((a) => (a === env.pebble.directoryUrl ? 'https://127.0.0.1:9/directory' : a));
    const w = startWhisper([...args, '--dryrun']);
    expect(await w.exited).toBe(0);
    expect(w.output()).toContain(`would order  ${name}.${t.zone}.pem  [${name}.${t.zone}]`);
    await expect(stat(t.folder)).rejects.toThrow(/ENOENT/);
    expect(await zoneTxt(env, t.zoneId)).toEqual(before);
  });
});
