import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { startHaproxy } from '../support/haproxy.js';
import { daemonHarness } from '../support/harness.js';
import { BIN, eventually, fileOnce, kvGet, registerService, uniq } from '../support/whisper.js';
import { refusingHaproxySocket } from '../support/fake-haproxy-socket.js';
import '../support/env-types.js';

const run = promisify(execFile);
const env = inject('env');
const { cleanups, daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'tgt');

interface TargetStatus {
  delivered?: string;
  pending: boolean;
  attempts: number;
  lastError?: { code: string; message: string };
}

/** `whisper-ts status <folder> --json`: the targets of the row of `file`. */
async function targetsOf(folder: string, file: string): Promise<Record<string, TargetStatus>> {
  const rows = JSON.parse((await run(process.execPath, [BIN, 'status', folder, '--json'])).stdout) as Array<{ file: string; targets?: Record<string, TargetStatus> }>;
  return rows.find((r) => r.file === file)?.targets ?? {};
}

describe('delivery to targets, in the daemon', () => {
  it('a failing target blocks nothing and is journaled; a target added later gets the existing certificate at start, once', async () => {
    const { zone, base, folder } = await folderAndZone();
    const args = [folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...dnsArgs(zone)];
    const fake = await refusingHaproxySocket(cleanups);

    // 1. A target that fails: the certificate is issued, written and notified all the same.
    let w = daemon([...args, '--haproxy-socket', fake.path]);
    const name = `web-${uniq()}`;
    const id = `${name}.${zone}`;
    await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
    const pem = await eventually('the certificate file', () => fileOnce(join(folder, `${id}.pem`)), 90_000);
    const serial = new X509Certificate(pem).serialNumber.toUpperCase();
    await eventually('the notify key', () => kvGet(env, `whisper-tests/${zone}`));
    const failed = await eventually('the failed delivery', () => w.logs.find((l) => l.msg === 'delivery failed; retrying' && l.cert === id));
    expect(failed.code).toBe('TARGET_HAPROXY');
    expect(typeof failed.nextRetry).toBe('string');
    expect(fake.commands.length).toBeGreaterThan(0);
    expect(await w.stop()).toBe(0);
    const first = await targetsOf(folder, `${id}.pem`);
    const [fakeName] = Object.keys(first);
    expect(fakeName).toContain(fake.path);
    expect(first[fakeName!]).toMatchObject({ pending: true, lastError: { code: 'TARGET_HAPROXY' } });
    expect(first[fakeName!]!.attempts).toBeGreaterThanOrEqual(1);
    expect(first[fakeName!]!.delivered).toBeUndefined();

    // 2. A real HAProxy's runtime API, configured now: at start it gets the certificate already in the folder.
    const haproxy = await startHaproxy(base, `${folder}/`, { adminSocket: true });
    cleanups.push(() => haproxy.stop());
    w = daemon([...args, '--haproxy-socket', haproxy.admin!.socket]);
    const delivered = await eventually('the delivery at start', () => w.logs.find((l) => l.msg === 'certificate delivered' && l.cert === id));
    expect(delivered.serial).toBe(serial);
    expect(w.logs.filter((l) => l.msg === 'ordering certificate')).toEqual([]);
    expect(await w.stop()).toBe(0);
    const second = await targetsOf(folder, `${id}.pem`);
    const realName = Object.keys(second).find((n) => n.includes(haproxy.admin!.socket))!;
    expect(second[realName]).toMatchObject({ delivered: serial, pending: false, attempts: 0 });
    expect(second[realName]!.lastError).toBeUndefined();
    const journal = JSON.parse(await readFile(join(folder, '.whisper-targets-local.json'), 'utf8')) as { targets: Record<string, Record<string, { delivered?: string }>> };
    expect(journal.targets[realName]?.[id]?.delivered).toBe(serial);

    // 3. The same target again: the journal says it has the serial, so nothing is sent.
    w = daemon([...args, '--haproxy-socket', haproxy.admin!.socket]);
    await eventually('the certificate checked', () => w.logs.find((l) => l.msg === 'certificate present and valid; nothing to order' && l.cert === id));
    await eventually('the targets started', () => w.logs.find((l) => l.msg === 'delivering to targets'));
    expect(w.logs.filter((l) => l.msg === 'certificate delivered')).toEqual([]);
    expect(await w.stop()).toBe(0);
  });
});
