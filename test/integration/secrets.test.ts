import { describe, it, expect, inject } from 'vitest';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sans, verifyAgainstPebble } from '../support/certs.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess, cleanupAfterAll } from '../support/whisper.js';
import { writeChallHook } from '../support/exec-hook.js';
import '../support/env-types.js';

const env = inject('env');
const { running, dirs } = cleanupAfterAll();

/** The base64 body lines of every private key in `pem` (a line alone is enough to leak part of a key). */
function keyLines(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/g) ?? [];
  return blocks.flatMap((b) => b.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')));
}

/** Every key line of the `.pem` files and the `.acme` account key; checks their modes and the folder's. */
async function folderSecrets(folder: string): Promise<string[]> {
  expect((await stat(folder)).mode & 0o777).toBe(0o700);
  const lines: string[] = [];
  for (const f of (await readdir(folder)).filter((n) => n.endsWith('.pem') || n === '.acme')) {
    const file = join(folder, f);
    expect({ file: f, mode: (await stat(file)).mode & 0o777 }).toEqual({ file: f, mode: 0o600 });
    lines.push(...keyLines(await readFile(file, 'utf8')));
  }
  expect(lines.length).toBeGreaterThan(2);
  return lines;
}

function expectNoneIn(output: string, secrets: readonly string[]): void {
  const leaked = secrets.filter((s) => output.includes(s));
  expect(leaked).toEqual([]);
}

describe('secrets never logged, even with --debug', () => {
  it('exec provider: no private key line and no TXT value in the output', async () => {
    const base = await mkdtemp(join(tmpdir(), 'whisper-secrets-exec-'));
    dirs.push(base);
    const { hook, calls } = await writeChallHook(base, env.challtestsrv.managementUrl);
    const zone = `s${uniq()}.exec.test`;
    const folder = join(base, 'certs');
    const w: WhisperProcess = startWhisper([folder, ...envArgs(env), '--dns-provider', 'exec', '--exec-command', hook,
      '--allow-domain', zone, '--notify', `whisper-tests/${uniq()}`]);
    running.push(w);
    await registerService(env, `svc-${uniq()}`, [`dns=${zone}`, 'vhost=one', 'vhost=two', 'https=443']);
    await registerService(env, `solo-${uniq()}`, [`dns=${zone}`, 'ssl=offloading']);
    const multi = await eventually('the multi-host certificate', () => fileOnce(join(folder, `multi-hosts.${zone}.pem`)));
    expect(sans(await verifyAgainstPebble(env, multi))).toEqual([`one.${zone}`, `two.${zone}`]);
    await eventually('the single certificate', async () => (await readdir(folder)).find((f) => f.startsWith('solo-')));
    await eventually('the issued log lines', () => w.logs.filter((l) => l.msg === 'certificate issued').length >= 2 || undefined);
    expect(await w.stop()).toBe(0);

    const txt = ((await fileOnce(calls)) ?? '')
      .split('\n')
      .filter((line) => line.startsWith('present '))
      .map((line) => line.split(' ')[2] ?? '');
    expect(txt.length).toBeGreaterThanOrEqual(3);
    const output = w.output();
    expect(output).toContain('"level":20'); // debug lines were written
    expectNoneIn(output, txt);
    expectNoneIn(output, await folderSecrets(folder));
  });

  it('rfc2136 provider: no private key line and no TSIG secret in the output', async () => {
    const base = await mkdtemp(join(tmpdir(), 'whisper-secrets-rfc2136-'));
    dirs.push(base);
    const secretFile = join(base, 'tsig.secret');
    await writeFile(secretFile, env.bind.tsig.secret, { mode: 0o600 });
    const folder = join(base, 'certs');
    const w: WhisperProcess = startWhisper([folder, ...envArgs(env), '--dns-provider', 'rfc2136', '--rfc2136-server', env.bind.addr,
      '--rfc2136-tsig-name', env.bind.tsig.name, '--rfc2136-tsig-algorithm', env.bind.tsig.algorithm,
      '--rfc2136-tsig-secret-file', secretFile, '--allow-domain', env.bind.zone, '--notify', `whisper-tests/${uniq()}`]);
    running.push(w);
    const name = `sec${uniq()}`;
    await registerService(env, name, [`dns=${env.bind.zone}`, 'ssl=offloading']);
    const pem = await eventually('the rfc2136 certificate', () => fileOnce(join(folder, `${name}.${env.bind.zone}.pem`)));
    expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`${name}.${env.bind.zone}`]);
    expect(await w.stop()).toBe(0);

    const output = w.output();
    expect(output).toContain('"level":20');
    const secret = env.bind.tsig.secret;
    expectNoneIn(output, [secret, Buffer.from(secret, 'base64').toString('hex')]);
    expectNoneIn(output, await folderSecrets(folder));
  });
});
