import { describe, it, expect, inject } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { sans, verifyAgainstPebble } from '../support/certs.js';
import { startBind } from '../support/bind.js';
import { startDnsCountProxy, type DnsCountProxy } from '../support/dns-count-proxy.js';
import { daemonHarness } from '../support/harness.js';
import { startPebble } from '../support/pebble.js';
import { BIN, deregisterService, eventually, fileOnce, registerService, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const h = daemonHarness(env, 'persist2136');
const ISSUER = 'persist-rfc2136-ca.whisper.test';
const UPDATE = 5;

/**
 * A BIND and a Pebble of our own. BIND: a zone no other test file's daemon takes names from (the environment's BIND
 * has one zone, which the other RFC 2136 tests' daemons order every service of). Pebble: a known issuer domain name,
 * (almost) no authorization reuse, so that re-orders are validated again, and it validates against our BIND.
 */
async function ownServers() {
  const dir = await mkdtemp(join(tmpdir(), 'whisper-persist2136-servers-'));
  h.cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const bind = await startBind(dir, `p2136${uniq()}.whisper.test`);
  h.cleanups.push(() => bind.stop());
  const pebble = await startPebble({ dir, dnsServer: bind.addr, env: { PEBBLE_AUTHZREUSE: '0' }, config: { caaIdentities: [ISSUER] }, name: 'pebble-persist2136' });
  h.cleanups.push(() => pebble.stop());
  return { bind, pebble };
}

const pemFiles = async (folder: string): Promise<string[]> => (await readdir(folder).catch(() => [])).filter((f) => f.endsWith('.pem')).sort();
const updates = (proxy: DnsCountProxy) => proxy.seen.filter((s) => s.opcode === UPDATE);
/** Each certificate's ACME steps, in order (the last, `done`, is logged as `ACME order complete`). */
function stepsByCert(w: WhisperProcess): Map<string, string[]> {
  const byCert = new Map<string, string[]>();
  for (const l of w.logs) {
    if (l.msg !== 'ACME step' && l.msg !== 'ACME order complete') continue;
    byCert.set(String(l.certId), [...(byCert.get(String(l.certId)) ?? []), String(l.step)]);
  }
  return byCert;
}

async function txtAt(addr: string, name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([addr]);
  try {
    return (await r.resolveTxt(name)).map((c) => c.join(''));
  } catch {
    return [];
  }
}

/** `whisper-ts dns-persist <folder> --json`: its exit code and records. */
function dnsPersistCli(folder: string, resolver: string): Promise<{ code: number; records: Array<{ fqdn: string; value: string; present: boolean }> }> {
  const args = [BIN, 'dns-persist', folder, '--json', '--issuer-domain-name', ISSUER, '--dns-resolver', resolver];
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

describe('dns-persist-01 through RFC 2136 (BIND) against Pebble', () => {
  it('writes the records of a burst in one UPDATE, and re-orders of every certificate send none', async () => {
    const { bind, pebble } = await ownServers();
    const zone = bind.zone;
    const proxy = await startDnsCountProxy(bind.addr);
    h.cleanups.push(() => proxy.close());
    const base = await mkdtemp(join(tmpdir(), 'whisper-persist2136-'));
    h.cleanups.push(() => rm(base, { recursive: true, force: true }));
    const folder = join(base, 'certs');
    const secretFile = join(base, 'tsig.secret');
    await writeFile(secretFile, bind.tsig.secret, { mode: 0o600 });
    const args = [folder, '--consul', env.consul.httpAddr, '--directory-url', pebble.directoryUrl, '--ca-bundle', pebble.tlsCaFile,
      '--dns-resolver', bind.addr, '--dns-provider', 'rfc2136', '--rfc2136-server', proxy.addr, '--rfc2136-tsig-name', bind.tsig.name,
      '--rfc2136-tsig-algorithm', bind.tsig.algorithm, '--rfc2136-tsig-secret-file', secretFile, '--allow-domain', zone,
      '--notify', `whisper-tests/${zone}`, '--challenge', 'dns-persist-01', '--concurrency', '16'];
    const services: string[] = [];
    h.cleanups.push(() => Promise.all(services.map((s) => deregisterService(env, s))));
    const register = async (prefix: string, count: number): Promise<string[]> => {
      const names = Array.from({ length: count }, (_, i) => `${prefix}${i}-${uniq()}`);
      services.push(...names);
      await Promise.all(names.map((name) => registerService(env, name, [`dns=${zone}`, 'ssl=offloading'])));
      return names;
    };
    const fileNames = (hosts: readonly string[]) => hosts.map((n) => `${n}.${zone}.pem`).sort();

    // Ten registered at once: their ten records in one UPDATE.
    const first = h.daemon(args);
    const hosts = await register('h', 10);
    await eventually('10 certificates', async () => ((await pemFiles(folder)).length === 10 ? true : undefined), 120_000);
    const afterTen = updates(proxy);
    console.log(`dns-persist-01 rfc2136: 10 orders, ${afterTen.length} UPDATE messages (records in each: ${afterTen.map((u) => u.records).join(', ')})`);
    expect(afterTen).toHaveLength(1);
    expect(afterTen[0]?.records).toBe(10);
    expect(afterTen.some((u) => u.failed)).toBe(false);
    expect(await pemFiles(folder)).toEqual(fileNames(hosts));

    // The records are in BIND, one value per name, with Pebble's issuer and this account; no name fell back to dns-01
    // (that UPDATE would have held its challenge records, and a second one removed them).
    for (const host of hosts) {
      const values = await txtAt(bind.addr, `_validation-persist.${host}.${zone}`);
      expect(values).toHaveLength(1);
      expect(values[0]).toMatch(new RegExp(`^${ISSUER.replaceAll('.', '\\.')}; accounturi=https://127\\.0\\.0\\.1:\\d+/\\S+$`));
    }
    expect(first.logs.filter((l) => l.msg === 'dns-persist-01 not usable; answering dns-01')).toEqual([]);
    const one = await fileOnce(join(folder, `${hosts[0]}.${zone}.pem`));
    expect(sans(await verifyAgainstPebble({ ...env, pebble }, one ?? ''))).toEqual([`${hosts[0]}.${zone}`]);

    // Five more at once: one more UPDATE, with their five records.
    const more = await register('m', 5);
    await eventually('15 certificates', async () => ((await pemFiles(folder)).length === 15 ? true : undefined), 120_000);
    const afterFifteen = updates(proxy);
    console.log(`dns-persist-01 rfc2136: 5 more orders, ${afterFifteen.length - afterTen.length} more UPDATE messages`);
    expect(afterFifteen).toHaveLength(afterTen.length + 1);
    expect(afterFifteen.at(-1)?.records).toBe(5);
    expect(await pemFiles(folder)).toEqual(fileNames([...hosts, ...more]));
    expect(await first.stop()).toBe(0);

    // Every certificate ordered again (files gone, same account): every name validated again, no UPDATE at all.
    for (const f of await pemFiles(folder)) await rm(join(folder, f));
    const again = h.daemon(args);
    await eventually('15 certificates again', async () => ((await pemFiles(folder)).length === 15 ? true : undefined), 120_000);
    expect(await pemFiles(folder)).toEqual(fileNames([...hosts, ...more]));
    // The log lines come through a pipe: the last file can land before its order's lines are read.
    const again15 = await eventually('every order done', () => {
      const byCert = stepsByCert(again);
      return [...byCert.values()].filter((st) => st.includes('done')).length >= 15 ? byCert : undefined;
    }, 10_000);
    // Every name validated again by its record. Pebble reuses a valid authorization 1 time in 100 even with
    // PEBBLE_AUTHZREUSE=0 (it reuses when rand.Intn(100) > percent is false): such an order validates nothing.
    const validated = [...again15.values()].filter((st) => st.includes('completeChallenge')).length;
    const reused = [...again15.values()].filter((st) => !st.includes('challengeTarget') && !st.includes('completeChallenge')).length;
    expect(validated + reused).toBe(15);
    expect(validated).toBeGreaterThanOrEqual(13);
    expect(updates(proxy)).toHaveLength(afterFifteen.length);
    expect(again.logs.some((l) => typeof l.step === 'string' && l.step.startsWith('dns.present'))).toBe(false);
    expect(again.logs.filter((l) => l.msg === 'dns-persist-01 not usable; answering dns-01')).toEqual([]);
    const last = await fileOnce(join(folder, `${more[4]}.${zone}.pem`));
    expect(sans(await verifyAgainstPebble({ ...env, pebble }, last ?? ''))).toEqual([`${more[4]}.${zone}`]);
    expect(await again.stop()).toBe(0);
    expect(updates(proxy)).toHaveLength(afterFifteen.length);

    // The command lists the 15 records of this account, each in place.
    const listed = await dnsPersistCli(folder, bind.addr);
    expect(listed.code).toBe(0);
    expect(listed.records.map((r) => r.fqdn).sort()).toEqual([...hosts, ...more].map((n) => `_validation-persist.${n}.${zone}`).sort());
    expect(listed.records.every((r) => r.present)).toBe(true);
  }, 300_000);
});
