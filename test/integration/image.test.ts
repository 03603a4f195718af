import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { chmod, chown, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createZone, sans, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { ensureBaseImage, startDocker, type DockerEngine } from '../support/docker.js';
import { freePort } from '../support/ports.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { cleanupAfterAll, eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import '../support/env-types.js';

// The Dockerfile as users build it, built and run by a real engine (Debian's docker.io) against this run's
// Consul, Pebble and Route53 emulator, with host networking (the engine has no bridge here).
const env = inject('env');
const root = resolve(import.meta.dirname, '../..');
const { dirs } = cleanupAfterAll();
const TAG = 'whisper-ts:test';
/** The image's user, as documented in docs/production.md. */
const NODE_UID = 1000;
let engine: DockerEngine;

beforeAll(async () => {
  const nodeVersion = process.env.NODE_VERSION;
  if (!nodeVersion) throw new Error('NODE_VERSION is not set: run the tests through scripts/test.sh');
  engine = await startDocker(env.runDir);
  await ensureBaseImage(engine, nodeVersion);
  const started = Date.now();
  const built = await engine.docker(['build', '--network', 'host', '--tag', TAG, '.'], { cwd: root, timeoutMs: 900_000 });
  if (built.code !== 0) throw new Error(`docker build failed:\n${built.stdout.slice(-4000)}\n${built.stderr}`);
  const size = Number((await engine.docker(['image', 'inspect', '--format', '{{.Size}}', TAG])).stdout.trim());
  console.log(`image ${TAG}: ${(size / 1e6).toFixed(0)} MB on ${nodeVersion}, built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 1_200_000);

afterAll(async () => {
  await engine?.stop();
}, 120_000);

/** A host folder for /app/certs, prepared as docs/production.md says: `install -d -m 0700 -o 1000`. */
async function certFolder(): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'whisper-image-'));
  dirs.push(base);
  const folder = join(base, 'certs');
  await mkdir(folder, { mode: 0o700 });
  await chown(folder, NODE_UID, NODE_UID);
  return folder;
}

/** The recommended hardening (read-only root, no capabilities, no privilege gain), and quick health checks. */
const HARDENED = ['--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];
const QUICK_HEALTH = ['--health-interval', '1s', '--health-timeout', '5s', '--health-retries', '2', '--health-start-period', '1s'];

/** Starts a detached container of the image; returns its name. */
async function runContainer(options: { env: Record<string, string>; volumes: string[]; extra?: string[]; args?: string[] }): Promise<string> {
  const name = `whisper-ts-test-${uniq()}`;
  const flags = ['--detach', '--name', name, '--label', 'whisper-ts-test', '--network', 'host', ...HARDENED, ...(options.extra ?? [])];
  for (const [k, v] of Object.entries(options.env)) flags.push('--env', `${k}=${v}`);
  for (const v of options.volumes) flags.push('--volume', v);
  const r = await engine.docker(['run', ...flags, TAG, ...(options.args ?? [])]);
  if (r.code !== 0) throw new Error(`docker run failed: ${r.stderr}`);
  return name;
}

async function inspect(name: string, format: string): Promise<string> {
  return (await engine.docker(['inspect', '--format', format, name])).stdout.trim();
}

async function logs(name: string): Promise<string> {
  const r = await engine.docker(['logs', name]);
  return r.stdout + r.stderr;
}

/** whisper's environment pointed at this run's servers, with DNS-01 in the Route53 emulator. */
function daemonEnv(zone: string): Record<string, string> {
  return {
    CONSUL: env.consul.httpAddr,
    DEBUG: '-d',
    ACME_REGISTER_EMAIL: 'ops@example.com',
    ACME_DIRECTORY_URL: env.pebble.directoryUrl,
    WHISPER_CA_BUNDLE: '/run/pebble-ca.pem',
    WHISPER_DNS_RESOLVERS: env.dnsFront.addr,
    WHISPER_DNS_PROVIDER: 'route53',
    WHISPER_ROUTE53_ENDPOINT: env.route53.endpoint,
    WHISPER_ALLOW_DOMAINS: zone,
    WHISPER_NOTIFY: `whisper-tests/${zone}`,
  };
}

async function challengeTxt(zoneId: string): Promise<string[]> {
  return [...(await zoneTxt(env, zoneId)).keys()].filter((n) => n.startsWith('_acme-challenge'));
}

describe('the Docker image, built and run by a real engine', () => {
  it('holds the app as the non-root user node, production dependencies only, no source maps', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { dependencies: object; devDependencies: object };
    const script = `const fs = require('node:fs'); const has = (d) => fs.existsSync('/app/node_modules/' + d);
      console.log(JSON.stringify({ uid: process.getuid(), node: process.version, app: fs.readdirSync('/app').sort(),
        missing: JSON.parse(process.env.DEPS).filter((d) => !has(d)), dev: JSON.parse(process.env.DEV).filter(has),
        maps: fs.readdirSync('/app', { recursive: true }).filter((f) => f.endsWith('.map')) }))`;
    const r = await engine.docker(['run', '--rm', '--label', 'whisper-ts-test', ...HARDENED,
      '--env', `DEPS=${JSON.stringify(Object.keys(pkg.dependencies))}`, '--env', `DEV=${JSON.stringify(Object.keys(pkg.devDependencies))}`,
      '--entrypoint', 'node', TAG, '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      uid: NODE_UID,
      node: `v${process.env.NODE_VERSION}`,
      app: ['certs', 'dist', 'docker', 'node_modules', 'package-lock.json', 'package.json'],
      missing: [],
      dev: [],
      maps: [],
    });
  }, 60_000);

  it("reads whisper's environment through the entrypoint: CONSUL, STAGING=\"-s\", a dry run of a service", async () => {
    const zone = `img${uniq()}.whisper.test`;
    const name = `web-${uniq()}`;
    await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
    const base = ['run', '--rm', '--label', 'whisper-ts-test', '--network', 'host', ...HARDENED, '--env', `CONSUL=${env.consul.httpAddr}`, '--env', 'STAGING=-s'];
    const dry = await engine.docker([...base, TAG, '--dryrun', '--allow-domain', zone]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`would order  ${name}.${zone}.pem  [${name}.${zone}]`);
    // STAGING="-s" was read: it refuses to be combined with another CA's directory.
    const both = await engine.docker([...base, '--env', 'ACME_DIRECTORY_URL=https://ca.example/dir', TAG, '--dryrun']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--staging');
  }, 60_000);

  it('HEALTHCHECK with WHISPER_LISTEN empty probes the folder itself: a read-only mount fails with EROFS', async () => {
    const folder = await certFolder();
    const check = (mode: string) =>
      engine.docker(['run', '--rm', '--label', 'whisper-ts-test', ...HARDENED, '--env', 'WHISPER_LISTEN=', '--volume', `${folder}:/app/certs${mode}`,
        '--entrypoint', 'node', TAG, '/app/docker/healthcheck.mjs']);
    const writable = await check('');
    expect({ code: writable.code, stderr: writable.stderr }).toEqual({ code: 0, stderr: '' });
    const readOnly = await check(':ro');
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toContain('certificate folder /app/certs is not writable: EROFS');
  }, 60_000);

  it('issues into the mounted folder (owner uid 1000, keys 0600), turns healthy, unhealthy while the folder is unwritable, healthy again', async () => {
    const zone = `img${uniq()}.whisper.test`;
    await createZone(env, zone);
    const folder = await certFolder();
    const name = `web-${uniq()}`;
    await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
    const port = await freePort();
    const container = await runContainer({
      env: { ...daemonEnv(zone), AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', WHISPER_LISTEN: `127.0.0.1:${port}` },
      volumes: [`${folder}:/app/certs`, `${env.pebble.tlsCaFile}:/run/pebble-ca.pem:ro`],
      extra: QUICK_HEALTH,
    });
    const file = join(folder, `${name}.${zone}.pem`);
    const pem = await eventually(`${name}.${zone}.pem in the host folder`, () => fileOnce(file), 90_000).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await logs(container)}`);
    });
    expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`${name}.${zone}`]);
    for (const f of [file, join(folder, '.acme')]) {
      const s = await stat(f);
      expect({ file: f, uid: s.uid, mode: s.mode & 0o777 }).toEqual({ file: f, uid: NODE_UID, mode: 0o600 });
    }
    expect((await stat(folder)).mode & 0o777).toBe(0o700);

    const health = () => inspect(container, '{{.State.Health.Status}}');
    await eventually('healthy', async () => ((await health()) === 'healthy' ? true : undefined), 30_000);
    await chmod(folder, 0o500);
    await eventually('unhealthy', async () => ((await health()) === 'unhealthy' ? true : undefined), 30_000);
    expect(await inspect(container, '{{json .State.Health.Log}}')).toContain('is not writable: EACCES');
    await chmod(folder, 0o700);
    await eventually('healthy again', async () => ((await health()) === 'healthy' ? true : undefined), 30_000);

    expect((await engine.docker(['stop', container])).code).toBe(0);
    expect(await inspect(container, '{{.State.ExitCode}}')).toBe('0');
  }, 180_000);

  it("docker stop with orders in flight: exit 0 in under 2 s, no challenge record left; whisper's /root/.aws/credentials mount", async () => {
    const zone = `img${uniq()}.whisper.test`;
    const zoneId = await createZone(env, zone);
    const folder = await certFolder();
    const credentials = join(folder, '..', 'aws-credentials');
    await writeFile(credentials, '[default]\naws_access_key_id = test\naws_secret_access_key = test\n', { mode: 0o644 });
    for (let i = 0; i < 5; i++) await registerService(env, `s${i}-${uniq()}`, [`dns=${zone}`, 'ssl=offloading']);
    // Orders aborted mid-validation: on a Pebble of its own, since that can deadlock Pebble's store
    // (letsencrypt/pebble#554) for the other tests of the run.
    const pebble = await startPebble({ dir: env.runDir, name: `pebble-image-${uniq()}`, dnsServer: env.dnsFront.addr });
    try {
      await stopInFlight(zone, zoneId, folder, credentials, pebble);
    } finally {
      await pebble.stop();
    }
  }, 120_000);
});

/** Runs the image on `pebble`, stops it once a challenge record is published, checks what it leaves. */
async function stopInFlight(zone: string, zoneId: string, folder: string, credentials: string, pebble: Pebble): Promise<void> {
  const container = await runContainer({
    env: { ...daemonEnv(zone), ACME_DIRECTORY_URL: pebble.directoryUrl, WHISPER_CONCURRENCY: '5', WHISPER_LISTEN: '' },
    volumes: [`${folder}:/app/certs`, `${pebble.tlsCaFile}:/run/pebble-ca.pem:ro`, `${credentials}:/root/.aws/credentials:ro`],
  });
  const deadline = Date.now() + 60_000;
  while ((await challengeTxt(zoneId)).length === 0) {
    if (Date.now() > deadline) throw new Error(`no challenge record published:\n${await logs(container)}`);
    await sleep(5);
  }
  const sent = Date.now();
  const stopped = await engine.docker(['stop', '--time', '10', container]);
  const took = Date.now() - sent;
  expect(stopped.code).toBe(0);
  expect(took).toBeLessThan(2000);
  expect(await inspect(container, '{{.State.ExitCode}}')).toBe('0');
  expect(await challengeTxt(zoneId)).toEqual([]);
  expect(await fileOnce(join(folder, '.whisper-challenges.json'))).toBeUndefined();
  const out = await logs(container);
  expect(out).toContain('AWS credentials file /root/.aws/credentials');
  expect(out).toContain('whisper-ts stopped');
  console.log(`docker stop with orders in flight: ${took} ms`);
}
