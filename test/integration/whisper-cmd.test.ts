import { describe, it, expect, inject } from 'vitest';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createZone } from '../support/certs.js';
import { daemonHarness } from '../support/harness.js';
import { eventually, fileOnce, kvGet, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

// whisper's two Dockerfile CMD lines, expanded by a real `sh` as the images did, run as they are against this run's
// Consul, Pebble and Route53 emulator (the test servers come in through the environment, not extra flags).
const env = inject('env');
const { cleanups, folderAndZone } = daemonHarness(env, 'cmd');

const FIRST_CMD = '-c ${CONSUL} -n ${KV_PATH} ${DEBUG} ${STAGING} ${FOLDER}';
const LAST_CMD = '-c ${CONSUL} -n ${KV_PATH} ${DEBUG} ${STAGING} ${DOMAIN} ${FOLDER}';

function shWords(line: string, vars: Record<string, string>): string[] {
  const out = execFileSync('sh', ['-c', `for w in ${line}; do printf '%s\\0' "$w"; done`], { env: { PATH: process.env.PATH ?? '', ...vars } });
  return out.toString('utf8').split('\0').slice(0, -1);
}

/** The test servers, through the environment whisper-ts reads. */
function serversEnv(zones: string[]): Record<string, string> {
  return {
    ACME_DIRECTORY_URL: env.pebble.directoryUrl,
    WHISPER_CA_BUNDLE: env.pebble.tlsCaFile,
    WHISPER_DNS_RESOLVERS: env.dnsFront.addr,
    WHISPER_ROUTE53_ENDPOINT: env.route53.endpoint,
    WHISPER_ALLOW_DOMAINS: zones.join(','),
  };
}

function run(argv: string[], extraEnv: Record<string, string>): WhisperProcess {
  const w = startWhisper(argv, extraEnv);
  cleanups.push(() => w.stop());
  return w;
}

describe("whisper's CMD lines, word for word", () => {
  it('first release: -c $CONSUL -n $KV_PATH -d <folder> (DEBUG="-d"): debug, its notify key', async () => {
    const t = await folderAndZone();
    const kvPath = `whisper-cmd/${uniq()}/updated`;
    const argv = shWords(FIRST_CMD, { CONSUL: env.consul.httpAddr, KV_PATH: kvPath, DEBUG: '-d', STAGING: '', FOLDER: t.folder });
    expect(argv).toEqual(['-c', env.consul.httpAddr, '-n', kvPath, '-d', t.folder]);
    const w = run(argv, serversEnv([t.zone]));
    const svc = `first-${uniq()}`;
    await registerService(env, svc, [`dns=${t.zone}`, 'ssl=offloading']);
    await eventually('the certificate', () => fileOnce(join(t.folder, `${svc}.${t.zone}.pem`)));
    await eventually('the notify key', () => kvGet(env, kvPath));
    expect(w.logs.some((l) => l.level === 20)).toBe(true);
    expect(await w.stop()).toBe(0);
  }, 90_000);

  it('last release: -c $CONSUL -n $KV_PATH --debug -d <zone> <folder>, whisper\'s ~/.acme: only that zone, the key used as it is', async () => {
    const t = await folderAndZone();
    const other = `cmdother${uniq()}.whisper.test`;
    await createZone(env, other);
    const kvPath = `whisper-cmd/${uniq()}/updated`;
    const argv = shWords(LAST_CMD, { CONSUL: env.consul.httpAddr, KV_PATH: kvPath, DEBUG: '--debug', STAGING: '', DOMAIN: `-d ${t.zone}`, FOLDER: t.folder });
    expect(argv).toEqual(['-c', env.consul.httpAddr, '-n', kvPath, '--debug', '-d', t.zone, t.folder]);
    // whisper's account key in ~/.acme (PKCS#1 RSA), as the last release kept it.
    const home = await mkdtemp(join(tmpdir(), 'whisper-cmd-home-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    await writeFile(join(home, '.acme'), key, { mode: 0o600 });
    const w = run(argv, { ...serversEnv([t.zone, other]), HOME: home });
    const svc = `last-${uniq()}`;
    const outside = `outside-${uniq()}`;
    await registerService(env, outside, [`dns=${other}`, 'ssl=offloading']);
    await registerService(env, svc, [`dns=${t.zone}`, 'ssl=offloading']);
    await eventually('the certificate', () => fileOnce(join(t.folder, `${svc}.${t.zone}.pem`)));
    await eventually('the notify key', () => kvGet(env, kvPath));
    // The zone outside `-d` is not handled at all, as whisper skipped it.
    await sleep(1000);
    expect(await fileOnce(join(t.folder, `${outside}.${other}.pem`))).toBeUndefined();
    expect(w.logs.filter((l) => l.msg === 'ordering certificate').map((l) => l.cert)).toEqual([`${svc}.${t.zone}`]);
    // The key in ~/.acme is the account: used as it is, no copy in the folder.
    expect(await readFile(join(home, '.acme'), 'utf8')).toBe(key);
    expect(await fileOnce(join(t.folder, '.acme'))).toBeUndefined();
    expect(await w.stop()).toBe(0);
  }, 90_000);
});
