import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAcmeClientFactory } from '../../src/acme/transport.js';
import { createZone, sans, verifyAgainstPebble, zoneTxt } from '../support/certs.js';
import { ensureBaseImage, startDocker, type DockerEngine } from '../support/docker.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { cleanupAfterAll, eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import '../support/env-types.js';

// The Dockerfile as users build it, built and run by a real engine (Debian's docker.io) against this run's
// Consul, Pebble and Route53 emulator, with host networking (the engine has no bridge here). The containers are run
// the way whisper's README ran whisper's image, with only what points them at this run's servers added.
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

async function tempDir(): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'whisper-image-'));
  dirs.push(base);
  return base;
}

/** A host folder for /app/certs, prepared as docs/production.md says: `install -d -m 0700 -o 1000`. */
async function certFolder(): Promise<string> {
  const folder = join(await tempDir(), 'certs');
  await mkdir(folder, { mode: 0o700 });
  await chown(folder, NODE_UID, NODE_UID);
  return folder;
}

/** A named volume, labelled so that the engine's stop removes it. */
async function namedVolume(): Promise<string> {
  const name = `whisper-certs-${uniq()}`;
  const r = await engine.docker(['volume', 'create', '--label', 'whisper-ts-test', name]);
  if (r.code !== 0) throw new Error(`docker volume create: ${r.stderr}`);
  return name;
}

/** The recommended hardening (read-only root, no capabilities, no privilege gain), and quick health checks. */
const HARDENED = ['--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];
const QUICK_HEALTH = ['--health-interval', '1s', '--health-timeout', '5s', '--health-retries', '2', '--health-start-period', '1s'];

function runFlags(options: { env: Record<string, string>; volumes: string[]; extra?: string[] }): string[] {
  const flags = ['--label', 'whisper-ts-test', '--network', 'host', ...HARDENED, ...(options.extra ?? [])];
  for (const [k, v] of Object.entries(options.env)) flags.push('--env', `${k}=${v}`);
  for (const v of options.volumes) flags.push('--volume', v);
  return flags;
}

/** Starts a detached container of the image; returns its name. */
async function runContainer(options: { env: Record<string, string>; volumes: string[]; extra?: string[]; args?: string[] }): Promise<string> {
  const name = `whisper-ts-test-${uniq()}`;
  const r = await engine.docker(['run', '--detach', '--name', name, ...runFlags(options), TAG, ...(options.args ?? [])]);
  if (r.code !== 0) throw new Error(`docker run failed: ${r.stderr}`);
  return name;
}

/** Runs the image to its end (`--rm`), as for a container that stops by itself. */
function runToEnd(options: { env: Record<string, string>; volumes: string[]; extra?: string[] }) {
  return engine.docker(['run', '--rm', ...runFlags(options), TAG]);
}

async function inspect(name: string, format: string): Promise<string> {
  return (await engine.docker(['inspect', '--format', format, name])).stdout.trim();
}

async function logs(name: string): Promise<string> {
  const r = await engine.docker(['logs', name]);
  return r.stdout + r.stderr;
}

function health(container: string): Promise<string> {
  return inspect(container, '{{.State.Health.Status}}');
}

async function waitHealth(container: string, status: 'healthy' | 'unhealthy', timeoutMs = 30_000): Promise<void> {
  await eventually(status, async () => ((await health(container)) === status ? true : undefined), timeoutMs).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${await inspect(container, '{{json .State.Health}}')}\n${(await logs(container)).slice(-3000)}`);
  });
}

/** Waits for a file the container writes, with its logs on failure. */
async function landed(container: string, file: string, timeoutMs = 90_000): Promise<string> {
  return eventually(file, () => fileOnce(file), timeoutMs).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await logs(container)}`);
  });
}

/** Stops the container as `docker stop` does; returns how long it took. */
async function stopFast(container: string): Promise<number> {
  const sent = Date.now();
  const stopped = await engine.docker(['stop', '--time', '10', container]);
  const took = Date.now() - sent;
  expect(stopped.code, stopped.stderr).toBe(0);
  expect(await inspect(container, '{{.State.ExitCode}}')).toBe('0');
  return took;
}

/** What points whisper's environment at this run's servers: Pebble (trusted through its CA file), the emulator. */
function testServers(directoryUrl = env.pebble.directoryUrl): Record<string, string> {
  return {
    ACME_DIRECTORY_URL: directoryUrl,
    WHISPER_CA_BUNDLE: '/run/pebble-ca.pem',
    WHISPER_DNS_RESOLVERS: env.dnsFront.addr,
    WHISPER_ROUTE53_ENDPOINT: env.route53.endpoint,
  };
}

/** whisper's environment pointed at this run's servers, with DNS-01 in the Route53 emulator. */
function daemonEnv(zone: string): Record<string, string> {
  return {
    CONSUL: env.consul.httpAddr,
    DEBUG: '-d',
    ACME_REGISTER_EMAIL: 'ops@example.com',
    ...testServers(),
    WHISPER_DNS_PROVIDER: 'route53',
    WHISPER_ALLOW_DOMAINS: zone,
    WHISPER_NOTIFY: `whisper-tests/${zone}`,
  };
}

const PEBBLE_CA = `${env.pebble.tlsCaFile}:/run/pebble-ca.pem:ro`;

/** whisper's ~/.aws/credentials: one profile per zone, named after it. Mode 0600, owned by the host user 1000. */
async function awsCredentials(dir: string, zones: string[]): Promise<string> {
  const file = join(dir, 'aws-credentials');
  await writeFile(file, zones.map((z) => `[${z}]\naws_access_key_id = test\naws_secret_access_key = test\n`).join('\n'), { mode: 0o600 });
  await chown(file, NODE_UID, NODE_UID);
  return file;
}

async function challengeTxt(zoneId: string): Promise<string[]> {
  return [...(await zoneTxt(env, zoneId)).keys()].filter((n) => n.startsWith('_acme-challenge'));
}

/** The KV key's modify index (0: absent). */
async function kvIndex(key: string): Promise<number> {
  const res = await fetch(`http://${env.consul.httpAddr}/v1/kv/${key}`);
  if (res.status === 404) return 0;
  const [entry] = (await res.json()) as Array<{ ModifyIndex: number }>;
  return entry?.ModifyIndex ?? 0;
}

/** Processes of the container in state Z (zombies), from /proc: the image has no `ps`. */
async function zombies(container: string): Promise<string[]> {
  const r = await engine.docker(['exec', container, 'sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null']);
  return r.stdout.split('\n').filter((l) => / Z /.test(l.slice(l.lastIndexOf(')'))));
}

/** An orphan: `sh` starts `sleep` in the background and exits, so the kernel hands `sleep` to the container's PID 1. */
async function orphanGrandchild(container: string): Promise<void> {
  const r = await engine.docker(['exec', container, 'sh', '-c', 'sleep 0.2 >/dev/null 2>&1 & exit 0']);
  expect(r.code, r.stderr).toBe(0);
}

/** A TCP gate in front of Pebble: while closed, connections are reset (the CA is unreachable); open, it relays. */
async function tcpGate(target: string): Promise<{ url: string; open(): void; close(): Promise<void> }> {
  const upstream = new URL(target);
  let open = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (!open) return client.resetAndDestroy();
    const up = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}${upstream.pathname}`,
    open: () => void (open = true),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('the Docker image, built and run by a real engine', () => {
  it('holds the app as the non-root user node, production dependencies only, no source maps; tini is PID 1', async () => {
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
      app: ['certs', 'dist', 'docker', 'node_modules', 'package-lock.json', 'package.json', 'web'],
      missing: [],
      dev: [],
      maps: [],
    });
    const entry = await engine.docker(['image', 'inspect', '--format', '{{json .Config.Entrypoint}}', TAG]);
    expect(JSON.parse(entry.stdout)).toEqual(['/usr/bin/tini', '-s', '--', '/app/docker/entrypoint.sh']);
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

  it("whisper's first README line (-v certs:/app/certs/, DEBUG=\"-d\", WHISPER_LISTEN empty): unhealthy without a CA, then a certificate, healthy, orphans reaped, a fast stop", async () => {
    const zone = `first${uniq()}.whisper.test`;
    await createZone(env, zone);
    const dir = await tempDir();
    const credentials = await awsCredentials(dir, [zone]);
    const volume = await namedVolume();
    const name = `web-${uniq()}`;
    await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
    const gate = await tcpGate(env.pebble.directoryUrl);
    const notifiedBefore = await kvIndex('whisper/updated');
    try {
      // docker run -v ~/.aws/credentials:/root/.aws/credentials -v certs:/app/certs/ -e CONSUL=<ip> -e DEBUG="-d"
      // (KV_PATH unset: whisper's image default, whisper/updated). The allow-list keeps it to this test's zone.
      const container = await runContainer({
        env: { CONSUL: env.consul.httpAddr, DEBUG: '-d', ACME_REGISTER_EMAIL: 'ops@example.com', ...testServers(gate.url), WHISPER_ALLOW_DOMAINS: zone, WHISPER_LISTEN: '' },
        volumes: [`${credentials}:/root/.aws/credentials`, `${volume}:/app/certs/`, PEBBLE_CA],
        extra: QUICK_HEALTH,
      });
      // The CA cannot be reached: no account, so not ready, and the health check says so (found on a free port).
      // (A daemon still starting, not listening yet, is unhealthy too: the reason comes once it listens.)
      await waitHealth(container, 'unhealthy');
      await eventually('the reason', async () => ((await inspect(container, '{{json .State.Health.Log}}')).includes('ACME account not ready') ? true : undefined), 30_000);
      expect(await health(container)).toBe('unhealthy');
      gate.open();

      const mountpoint = (await engine.docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).stdout.trim();
      const pem = await landed(container, join(mountpoint, `${name}.${zone}.pem`));
      expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`${name}.${zone}`]);
      // The named volume took the image's ownership of /app/certs: the user node, 0700.
      const s = await stat(mountpoint);
      expect({ uid: s.uid, mode: s.mode & 0o777 }).toEqual({ uid: NODE_UID, mode: 0o700 });
      await eventually('whisper/updated bumped', async () => ((await kvIndex('whisper/updated')) > notifiedBefore ? true : undefined), 30_000);
      await waitHealth(container, 'healthy');
      const out = await logs(container);
      expect(out).toContain('AWS credentials file /root/.aws/credentials');
      expect(out).toContain('"level":20');

      // tini reaps an orphaned grandchild of `docker exec` (Node as PID 1 would leave it a zombie: see the control).
      await orphanGrandchild(container);
      await sleep(500);
      expect(await eventually('no zombie', async () => ((await zombies(container)).length === 0 ? true : undefined), 5000)).toBe(true);

      const took = await stopFast(container);
      expect(took).toBeLessThan(1000);
      expect(await logs(container)).toContain('whisper-ts stopped');
      console.log(`docker stop of a ready daemon under tini: ${took} ms`);
    } finally {
      await gate.close();
    }
  }, 180_000);

  it('control: without tini, an orphan of docker exec stays a zombie (what the test above would see)', async () => {
    const container = `whisper-ts-test-${uniq()}`;
    const r = await engine.docker(['run', '--detach', '--name', container, '--label', 'whisper-ts-test', ...HARDENED,
      '--entrypoint', 'node', TAG, '-e', 'setInterval(() => {}, 1000)']);
    expect(r.code, r.stderr).toBe(0);
    await orphanGrandchild(container);
    const found = await eventually('a zombie', async () => ((await zombies(container)).length > 0 ? zombies(container) : undefined), 5000);
    expect(found.join('\n')).toContain('(sleep)');
    await engine.docker(['rm', '-f', container]);
  }, 60_000);

  it("whisper's last release line (~/.acme at /root/.acme, DEBUG=\"--debug\", DOMAIN, KV_PATH, ~/.aws credentials and config): whisper's account, only DOMAIN's zone, health follows the folder", async () => {
    const zone = `last${uniq()}.whisper.test`;
    const other = `other${uniq()}.whisper.test`;
    await createZone(env, zone);
    await createZone(env, other);
    const dir = await tempDir();
    const folder = await certFolder();
    const credentials = await awsCredentials(dir, [zone, other]);
    const config = join(dir, 'aws-config');
    await writeFile(config, `[profile ${zone}]\nregion = us-east-1\n`, { mode: 0o644 });

    // whisper's account key as whisper wrote it (RSA 2048, PKCS#1, as root with umask 022), registered beforehand.
    const accountKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const keyFile = join(dir, 'acme');
    await writeFile(keyFile, accountKey, { mode: 0o644 });
    const clients = createAcmeClientFactory({ caBundle: await readFile(env.pebble.tlsCaFile, 'utf8') });
    const client = clients({ directoryUrl: env.pebble.directoryUrl, accountKey, what: "whisper's account" });
    await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:whisper@example.com'] });
    const accountUrl = client.getAccountUrl();

    const name = `web-${uniq()}`;
    const outsider = `web-${uniq()}`;
    await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
    await registerService(env, outsider, [`dns=${other}`, 'ssl=offloading']);
    const notify = `whisper-tests/kv-path-${uniq()}`;
    // docker run -v ~/.aws/credentials:/root/.aws/credentials -v certs:/app/certs/ -v ~/.acme:/root/.acme
    //   -e CONSUL=<ip> -e DEBUG="--debug" -e DOMAIN="-d mydomain.tld" (+ KV_PATH, and ~/.aws/config). No
    // ACME_REGISTER_EMAIL: the account exists. WHISPER_LISTEN is the image's own (127.0.0.1:9400).
    const container = await runContainer({
      env: { CONSUL: env.consul.httpAddr, DEBUG: '--debug', DOMAIN: `-d ${zone}`, KV_PATH: notify, ...testServers() },
      volumes: [`${credentials}:/root/.aws/credentials`, `${config}:/root/.aws/config`, `${folder}:/app/certs/`, `${keyFile}:/root/.acme`, PEBBLE_CA],
      extra: QUICK_HEALTH,
    });
    const file = join(folder, `${name}.${zone}.pem`);
    const pem = await landed(container, file);
    expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`${name}.${zone}`]);
    // whisper's key was used as it is, with the account registered above: no new account.
    const urls = JSON.parse(await readFile(join(folder, '.acme.json'), 'utf8')) as { urls: Record<string, string> };
    expect(urls.urls[env.pebble.directoryUrl]).toBe(accountUrl);
    expect(await fileOnce(join(folder, '.acme'))).toBeUndefined();
    expect(await readFile(keyFile, 'utf8')).toBe(accountKey);
    for (const f of [file, join(folder, '.acme.json')]) {
      const s = await stat(f);
      expect({ file: f, uid: s.uid, mode: s.mode & 0o777 }).toEqual({ file: f, uid: NODE_UID, mode: 0o600 });
    }
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    // KV_PATH names the notify key; DOMAIN keeps the other zone out, though a profile and the zone exist for it.
    await eventually(`${notify} bumped`, async () => ((await kvIndex(notify)) > 0 ? true : undefined), 30_000);
    await sleep(1000);
    expect(await fileOnce(join(folder, `${outsider}.${other}.pem`))).toBeUndefined();
    const out = await logs(container);
    expect(out).not.toContain(`${outsider}.${other}`);
    expect(out).toContain('"level":20');
    for (const line of ['ACME account key /root/.acme', 'AWS credentials file /root/.aws/credentials', 'AWS config file /root/.aws/config']) {
      expect(out).toContain(`whisper-ts entrypoint: ${line}`);
    }

    await waitHealth(container, 'healthy');
    await chmod(folder, 0o500);
    await waitHealth(container, 'unhealthy');
    expect(await inspect(container, '{{json .State.Health.Log}}')).toContain('is not writable: EACCES');
    await chmod(folder, 0o700);
    await waitHealth(container, 'healthy');
    expect(await stopFast(container)).toBeLessThan(1000);
  }, 180_000);

  it('stops at once with one line saying what to run: root-owned /app/certs (folder or named volume), unreadable or missing ~/.acme, a read-only folder', async () => {
    const quick = { CONSUL: env.consul.httpAddr, WHISPER_LISTEN: '' };
    const oneLine = (r: { code: number; stderr: string }) => {
      expect(r.code, r.stderr).toBe(78);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      return lines[0]!;
    };

    // whisper ran as root: its folder is root's, 0755.
    const rootFolder = join(await tempDir(), 'certs');
    await mkdir(rootFolder, { mode: 0o755 });
    const started = Date.now();
    const line = oneLine(await runToEnd({ env: quick, volumes: [`${rootFolder}:/app/certs`] }));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(line).toContain('/app/certs is not writable by uid 1000');
    expect(line).toContain('belongs to uid 0');
    expect(line).toContain('chown -R 1000:1000 <the host folder mounted at /app/certs>');
    expect(line).toContain('--user 0');

    // A named volume whisper's image filled: the line names it, and the command it gives fixes it. (Not empty: the
    // engine gives an empty named volume the image's owner again at each mount.)
    const volume = await namedVolume();
    const asWhisper = 'chown 0:0 /app/certs && chmod 0755 /app/certs && touch /app/certs/www.example.com.pem';
    expect((await engine.docker(['run', '--rm', '--user', '0', '-v', `${volume}:/app/certs`, '--entrypoint', 'sh', TAG, '-c', asWhisper])).code).toBe(0);
    const named = oneLine(await runToEnd({ env: quick, volumes: [`${volume}:/app/certs`] }));
    const fix = /run (docker run .*? \/app\/certs), or start/.exec(named)?.[1];
    expect(fix, named).toBe(`docker run --rm --user 0 -v ${volume}:/app/certs --entrypoint chown <this image> -R 1000:1000 /app/certs`);
    const fixed = await engine.docker([...fix!.replace('<this image>', TAG).split(' ').slice(1)]);
    expect(fixed.code, fixed.stderr).toBe(0);
    // Writable now: the daemon starts and, with neither a key nor an address (whisper's placeholder is one), asks
    // for one.
    const noEmail = await runToEnd({ env: { ...quick, ACME_REGISTER_EMAIL: 'needtochange@docker.run', ...testServers() }, volumes: [`${volume}:/app/certs`, PEBBLE_CA] });
    expect(noEmail.code).not.toBe(0);
    expect(noEmail.stderr).toContain("ignoring ACME_REGISTER_EMAIL=needtochange@docker.run (whisper's placeholder)");
    expect(noEmail.stderr).toMatch(/^whisper-ts: .*ACME_REGISTER_EMAIL/m);
    expect(noEmail.stdout + noEmail.stderr).not.toContain('mailto:needtochange');

    // ~/.acme of root, 0600: unreadable by uid 1000.
    const folder = await certFolder();
    const dir = await tempDir();
    const secret = join(dir, 'acme');
    await writeFile(secret, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), { mode: 0o600 });
    const unreadable = oneLine(await runToEnd({ env: quick, volumes: [`${folder}:/app/certs`, `${secret}:/root/.acme`] }));
    expect(unreadable).toContain("/root/.acme (whisper's account key) is not readable by uid 1000");
    expect(unreadable).toContain('chown 1000 <the host file mounted at /root/.acme>');
    expect(unreadable).toContain('--user 0');

    // A read-only mount: no chown helps, the line says so.
    const readOnly = oneLine(await runToEnd({ env: quick, volumes: [`${folder}:/app/certs:ro`] }));
    expect(readOnly).toContain('/app/certs is mounted read-only');

    // -v ~/.acme:/root/.acme where the host has no ~/.acme: docker mounts a new directory.
    const missing = join(dir, 'no-such-acme');
    const directory = oneLine(await runToEnd({ env: quick, volumes: [`${folder}:/app/certs`, `${missing}:/root/.acme`] }));
    expect(directory).toContain('/root/.acme is a directory, not whisper\'s account key');
    expect(directory).toContain('mount the existing key file');
  }, 120_000);

  it('the health check without a daemon to ask says so', async () => {
    const r = await engine.docker(['run', '--rm', '--label', 'whisper-ts-test', ...HARDENED, '--env', 'WHISPER_LISTEN=', '--entrypoint', 'node', TAG, '/app/docker/healthcheck.mjs']);
    expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 1, stderr: 'healthcheck: the daemon is not running' });
  }, 60_000);

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
  const took = await stopFast(container);
  expect(took).toBeLessThan(2000);
  expect(await challengeTxt(zoneId)).toEqual([]);
  expect(await fileOnce(join(folder, '.whisper-challenges.json'))).toBeUndefined();
  const out = await logs(container);
  expect(out).toContain('AWS credentials file /root/.aws/credentials');
  expect(out).toContain('whisper-ts stopped');
  console.log(`docker stop with orders in flight: ${took} ms`);
}
