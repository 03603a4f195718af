import { describe, it, expect, inject } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createZone, sans, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { daemonHarness } from '../support/harness.js';
import { startPebble } from '../support/pebble.js';
import { startRoute53Proxy } from '../support/route53-proxy.js';
import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { BIN, eventually, fileOnce, registerService, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const h = daemonHarness(env, 'persist');
const ISSUER = 'persist-ca.whisper.test';

/** Pebble of our own: a known issuer domain name, and no authorization reuse (every re-order is validated again). */
async function ownPebble() {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-persist-pebble-'));
  h.cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const pebble = await startPebble({ dir, dnsServer: env.dnsFront.addr, env: { PEBBLE_AUTHZREUSE: '0' }, config: { caaIdentities: [ISSUER] }, name: 'pebble-persist' });
  h.cleanups.push(() => pebble.stop());
  return pebble;
}

const pemFiles = async (folder: string): Promise<string[]> => (await readdir(folder).catch(() => [])).filter((f) => f.endsWith('.pem')).sort();
/** `whisper-ts dns-persist <folder> --json`: its exit code and records. */
function dnsPersistCli(folder: string): Promise<{ code: number; records: Array<{ fqdn: string; value: string; present: boolean }> }> {
  const args = [BIN, 'dns-persist', folder, '--json', '--issuer-domain-name', ISSUER, '--dns-resolver', env.dnsFront.addr];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, (err, stdout) => {
      const code = err ? Number((err as { code?: unknown }).code) : 0;
      try {
        resolve({ code, records: (JSON.parse(stdout) as { records: [] }).records });
      } catch (parseErr) {
        reject(err ?? parseErr);
      }
    });
  });
}

/** Writes a TXT record straight into the emulator, as an operator would by hand (not through the counting proxy). */
async function upsertTxt(zoneId: string, fqdn: string, value: string): Promise<void> {
  const client = new Route53Client({ endpoint: env.route53.endpoint, region: env.route53.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    await client.send(new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: fqdn, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: `"${value}"` }] } }] },
    }));
  } finally {
    client.destroy();
  }
}

const steps = (w: WhisperProcess, step: string) => w.logs.filter((l) => l.msg === 'ACME step' && l.step === step).length;

describe('dns-persist-01 through Route53 against Pebble', () => {
  it('writes each name\'s record once in few changes, and re-orders of every certificate change no DNS', async () => {
    const pebble = await ownPebble();
    const proxy = await startRoute53Proxy(env.route53.endpoint);
    h.cleanups.push(() => proxy.close());
    const zone = `persist${uniq()}.whisper.test`;
    const zoneId = await createZone(env, zone);
    const base = await mkdtemp(join(tmpdir(), 'whisper-persist-'));
    h.cleanups.push(() => rm(base, { recursive: true, force: true }));
    const folder = join(base, 'certs');
    const args = [folder, '--consul', env.consul.httpAddr, '--directory-url', pebble.directoryUrl, '--ca-bundle', pebble.tlsCaFile,
      '--dns-resolver', env.dnsFront.addr, '--dns-provider', 'route53', '--route53-endpoint', proxy.url, '--allow-domain', zone,
      '--notify', `whisper-tests/${zone}`, '--challenge', 'dns-persist-01', '--concurrency', '16'];
    const changes = () => proxy.count().ChangeResourceRecordSets ?? 0;

    const first = h.daemon(args);
    const hosts = Array.from({ length: 10 }, (_, i) => `h${i}-${uniq()}`);
    await Promise.all(hosts.map((name) => registerService(env, name, [`dns=${zone}`, 'ssl=offloading'])));
    await eventually('10 certificates', async () => ((await pemFiles(folder)).length === 10 ? true : undefined), 120_000);
    const afterTen = changes();
    expect(afterTen).toBeGreaterThanOrEqual(1);
    expect(afterTen).toBeLessThanOrEqual(2);

    // The records are there, one per name, with Pebble's issuer and this account; no dns-01 record was made.
    const txt = await zoneTxt(env, zoneId);
    const persist = [...txt.keys()].filter((n) => n.startsWith('_validation-persist.'));
    expect(persist).toHaveLength(10);
    for (const name of persist) {
      const values = txt.get(name) ?? [];
      expect(values).toHaveLength(1);
      expect(values[0]).toMatch(new RegExp(`^"?${ISSUER.replaceAll('.', '\\.')}; accounturi=https://127\\.0\\.0\\.1:\\d+/\\S+[^"]"?$`));
    }
    expect([...txt.keys()].some((n) => n.startsWith('_acme-challenge.'))).toBe(false);
    const one = await fileOnce(join(folder, `${hosts[0]}.${zone}.pem`));
    expect(sans(await verifyAgainstPebble({ ...env, pebble }, one ?? ''))).toEqual([`${hosts[0]}.${zone}`]);

    // Five more at once: at most one more change.
    const more = Array.from({ length: 5 }, (_, i) => `m${i}-${uniq()}`);
    await Promise.all(more.map((name) => registerService(env, name, [`dns=${zone}`, 'ssl=offloading'])));
    await eventually('15 certificates', async () => ((await pemFiles(folder)).length === 15 ? true : undefined), 120_000);
    const afterFifteen = changes();
    expect(afterFifteen - afterTen).toBeLessThanOrEqual(1);
    expect(afterFifteen - afterTen).toBeGreaterThanOrEqual(1);
    expect(await first.stop()).toBe(0);

    // Every certificate ordered again (files gone, same account): every name validated again, no DNS change at all.
    for (const f of await pemFiles(folder)) await rm(join(folder, f));
    const again = h.daemon(args);
    await eventually('15 certificates again', async () => ((await pemFiles(folder)).length === 15 ? true : undefined), 120_000);
    expect(changes()).toBe(afterFifteen);
    // The log lines come through a pipe: the last file can land before its order's lines are read.
    // Pebble reuses a valid authorization 1 time in 100 per name even with PEBBLE_AUTHZREUSE=0 (wfe.go: it reuses
    // unless rand.Intn(100) > percent): such an order validates nothing. The files above are all there.
    await eventually('every name validated again', () => (steps(again, 'completeChallenge') >= 13 ? true : undefined), 10_000);
    expect(again.logs.some((l) => typeof l.step === 'string' && l.step.startsWith('dns.present'))).toBe(false);
    expect(again.logs.filter((l) => l.msg === 'dns-persist-01 not usable; answering dns-01')).toEqual([]);
    expect(await again.stop()).toBe(0);

    // The command lists the 15 records of this account, each in place.
    const listed = await dnsPersistCli(folder);
    expect(listed.code).toBe(0);
    expect(listed.records.map((r) => r.fqdn).sort()).toEqual([...hosts, ...more].map((n) => `_validation-persist.${n}.${zone}`).sort());
    expect(listed.records.every((r) => r.present)).toBe(true);

    // --dns-provider none: a new name fails, naming the record to create; once it is made by hand, the retry issues.
    const noneArgs = args.map((a) => (a === 'route53' ? 'none' : a)).concat('--retry-base', '1');
    const none = h.daemon(noneArgs);
    const late = `late-${uniq()}`;
    const lateRecord = `_validation-persist.${late}.${zone}`;
    await registerService(env, late, [`dns=${zone}`, 'ssl=offloading']);
    const failed = await eventually('the missing record reported', () => none.logs.find((l) => JSON.stringify(l).includes(`${lateRecord}. TXT`)));
    const value = /TXT \\?"([^"\\]+)/.exec(JSON.stringify(failed))?.[1] ?? '';
    expect(value).toMatch(new RegExp(`^${ISSUER.replaceAll('.', '\\.')}; accounturi=https://`));
    const before = changes();
    await upsertTxt(zoneId, lateRecord, value);
    await eventually('the late certificate', () => fileOnce(join(folder, `${late}.${zone}.pem`)), 60_000);
    expect(changes()).toBe(before);
    expect(await none.stop()).toBe(0);
  }, 300_000);
});
