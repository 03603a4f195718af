import { describe, it, expect, inject } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createZone, verifyAgainstPebble } from '../support/certs.js';
import { freePort } from '../support/ports.js';
import { BIN, envArgs, eventually, fileOnce, registerService, startWhisper, uniq, cleanupAfterAll } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();

/** The environment the daemon runs with (startWhisper's): the commands that act directly need the same. */
const CHILD_ENV = {
  ...process.env,
  ACME_REGISTER_EMAIL: 'tests@example.com',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  AWS_CONFIG_FILE: '/nonexistent',
};

/** Runs `whisper-ts <args>` to its end. */
function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: CHILD_ENV, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A zone of its own, a service in it, and the daemon's options (without the folder). */
async function setup() {
  const zone = `o${uniq()}.whisper.test`;
  await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-ops-'));
  dirs.push(base);
  const opts = [...envArgs(env), '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone,
    '--notify', `whisper-tests/${zone}`];
  const name = `web-${uniq()}`;
  await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
  return { zone, base, opts, id: `${name}.${zone}` };
}

async function serialOf(file: string): Promise<string> {
  return (await verifyAgainstPebble(env, await readFile(file, 'utf8'))).serialNumber.toUpperCase();
}

/** The serial of `file` once it differs from `old`. */
function newSerial(file: string, old: string): Promise<string> {
  return eventually(`a new certificate in ${file}`, async () => {
    const text = await fileOnce(file);
    if (text === undefined) return undefined;
    const serial = new X509Certificate(text).serialNumber.toUpperCase();
    return serial !== old ? serial : undefined;
  }, 120_000);
}

async function historyRows(folder: string, kind: string): Promise<Array<Record<string, unknown>>> {
  const r = await cli(['history', folder, '--json', '--kind', kind]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows;
}

describe('renew, revoke and import (whisper-ts commands)', () => {
  it('acts through the running daemon\'s admin API, then directly once it is stopped, and never beside a live holder', async () => {
    const t = await setup();
    const folder = join(t.base, 'certs');
    const tokenFile = join(t.base, 'admin-token');
    await writeFile(tokenFile, `${uniq()}${uniq()}${uniq()}\n`, { mode: 0o600 });
    const port = await freePort();
    const w = startWhisper([folder, ...t.opts, '--listen', `127.0.0.1:${port}`, '--admin-token-file', tokenFile]);
    running.push(w);
    const file = join(folder, `${t.id}.pem`);
    await eventually(file, () => fileOnce(file), 120_000);
    const first = await serialOf(file);
    await eventually('the daemon\'s API in its lock', async () => (await fileOnce(join(folder, '.whisper.lock')))?.includes('"api"') || undefined);

    // (a) through the API: the daemon orders, and its history says who asked.
    const renewed = await cli(['renew', folder, t.id, '--force']);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(renewed.stdout).toMatch(new RegExp(`renewal of ${t.id.replace(/\./g, '\\.')} queued: runs now`));
    const second = await newSerial(file, first);
    expect((await historyRows(folder, 'renew-requested')).some((r) => r.cert === t.id && r.by === 'cli')).toBe(true);

    expect((await cli(['revoke', folder, t.id])).code).toBe(2);
    const revoked = await cli(['revoke', folder, t.id, '--yes', '--reason', 'superseded', '--json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id: t.id, serial: second, reason: 'superseded', via: 'daemon' });
    const third = await newSerial(file, second);
    expect((await historyRows(folder, 'revoked')).some((r) => r.cert === t.id && r.by === 'cli' && r.serial === second)).toBe(true);

    const unknown = await cli(['renew', folder, `nope.${t.zone}`, '--force']);
    expect(unknown.code).toBe(3);

    // (b) no daemon: the command takes the lock and orders itself; the certificate is written when it returns.
    expect(await w.stop()).toBe(0);
    await expect(stat(join(folder, '.whisper.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    const direct = await cli(['renew', folder, t.id, '--force', ...t.opts]);
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout).toContain(`${t.id}: renewed (no daemon runs: acted directly)`);
    expect(await serialOf(file)).not.toBe(third);
    await expect(stat(join(folder, '.whisper.lock'))).rejects.toMatchObject({ code: 'ENOENT' });

    // A live process's lock: a daemon without --listen, then a command. Nothing is ordered beside either.
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const now = new Date().toISOString();
      const lock = (kind: string) => JSON.stringify({ pid: sleeper.pid, host: hostname(), started: now, heartbeat: now, kind });
      const before = await serialOf(file);
      await writeFile(join(folder, '.whisper.lock'), lock('daemon'));
      const blocked = await cli(['renew', folder, t.id, '--force', ...t.opts]);
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toContain(`the daemon (pid ${sleeper.pid} on ${hostname()}`);
      expect(blocked.stderr).toContain('without --listen');
      await writeFile(join(folder, '.whisper.lock'), lock('command'));
      const busy = await cli(['renew', folder, t.id, '--force', ...t.opts]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`the folder is in use by a command (pid ${sleeper.pid}`);
      expect(await serialOf(file)).toBe(before);
    } finally {
      sleeper.kill();
    }
  }, 600_000);

  it('imports a certificate issued elsewhere into a fresh folder; the daemon keeps it until it is due', async () => {
    const t = await setup();
    const elsewhere = join(t.base, 'elsewhere');
    const w = startWhisper([elsewhere, ...t.opts]);
    running.push(w);
    const source = join(elsewhere, `${t.id}.pem`);
    await eventually(source, () => fileOnce(source), 120_000);
    expect(await w.stop()).toBe(0);
    const account = await cli(['account', elsewhere, 'show', '--json', ...t.opts]);
    expect(account.code, account.stderr).toBe(0);
    const shown = JSON.parse(account.stdout) as { url: string; thumbprint: string };
    expect(shown).toMatchObject({ directoryUrl: env.pebble.directoryUrl, status: 'valid', url: expect.stringMatching(/^https:\/\//) });
    // A key rollover at the CA: the same account under a new key, and a line in the folder's history.
    const rolled = await cli(['account', elsewhere, 'rollover', '--json', ...t.opts]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({ url: shown.url, oldThumbprint: shown.thumbprint, thumbprint: expect.not.stringMatching(shown.thumbprint) });
    const after = await cli(['account', elsewhere, 'show', '--json', ...t.opts]);
    expect(JSON.parse(after.stdout)).toMatchObject({ url: shown.url, status: 'valid', thumbprint: (JSON.parse(rolled.stdout) as { thumbprint: string }).thumbprint });
    expect((await historyRows(elsewhere, 'account')).some((r) => r.by === 'cli' && r.reason === 'rollover')).toBe(true);
    // The HAProxy file is key, leaf and chain: as a PEM bundle from any other tool, put in another order.
    const blocks = (await readFile(source, 'utf8')).match(/-----BEGIN [^-]+-----[\s\S]+?-----END [^-]+-----\n?/g)!;
    const pem = join(t.base, 'bundle.pem');
    await writeFile(pem, [...blocks.slice(1), blocks[0]!].join(''));
    const serial = await serialOf(source);

    const folder = join(t.base, 'fresh');
    const imported = await cli(['import', folder, pem, ...t.opts, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ via: 'direct', imported: [{ id: t.id, file: `${t.id}.pem`, names: [t.id], serial }] });
    const file = join(folder, `${t.id}.pem`);
    expect(await serialOf(file)).toBe(serial);

    const port = await freePort();
    const d = startWhisper([folder, ...t.opts, '--listen', `127.0.0.1:${port}`]);
    running.push(d);
    let last = '';
    const view = await eventually('the imported certificate scheduled', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/certificates/${t.id}`).catch(() => undefined);
      if (!res) return undefined;
      last = `${res.status} ${await res.text()}`;
      const v = res.ok ? (JSON.parse(last.slice(4)) as { serial?: string; nextRenewal?: string }) : {};
      return v.nextRenewal ? v : undefined;
    }, 120_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; the API said ${last}; the daemon: ${d.output().slice(-3000)}`);
    });
    expect(view.serial).toBe(serial);
    expect(Date.parse(view.nextRenewal!)).toBeGreaterThan(Date.now());
    expect(await serialOf(file)).toBe(serial);
    const status = await cli(['status', folder, '--json', '--directory-url', env.pebble.directoryUrl]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(t.id);
    expect(await historyRows(folder, 'order')).toEqual([]);
    expect((await historyRows(folder, 'imported')).some((r) => r.cert === t.id && r.by === 'cli')).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 600_000);
});
