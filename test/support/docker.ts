import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from './paths.js';
import { startProcess, type ServerProcess } from './proc.js';

const run = promisify(execFile);

/** Debian's docker.io, client and engine of the same release (another client on PATH may be newer). */
const DOCKER = '/usr/bin/docker';
const DOCKERD = '/usr/sbin/dockerd';
/** The base image the Dockerfile names; the tests build it from Debian packages (scripts/env/base-image.sh). */
export const BASE_IMAGE = 'node:24-bookworm-slim';

/** What a docker command printed. */
export interface DockerResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A Docker engine of this test run: its own socket, data root and exec root, on host networking only. */
export interface DockerEngine {
  readonly process: ServerProcess;
  /** `unix://` address of its API. */
  readonly host: string;
  /** Runs the Docker client against this engine; never throws for a non-zero exit. */
  docker(args: readonly string[], options?: { timeoutMs?: number; cwd?: string }): Promise<DockerResult>;
  /** Removes this run's containers and volumes, stops the engine (containers, then containerd) and removes its exec root. */
  stop(): Promise<void>;
}

/** Lazily unmounts what dockerd left mounted under `dir` (its default network namespace's bind mount). */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((p) => p.startsWith(`${dir}/`)).reverse()) await run('umount', ['-l', m]).catch(() => undefined);
}

/**
 * Starts dockerd with no effect on any other engine of the machine: its own socket, pid file and exec root (a
 * short path in /tmp: unix socket paths are limited to 108 bytes), `--bridge=none` and no iptables rules. The data
 * root lives in the project cache so that the base image and the build cache survive the run; `flock --no-fork`
 * keeps two test runs from sharing it (the second waits), and the lock goes with the process.
 */
export async function startDocker(runDir: string): Promise<DockerEngine> {
  const data = join(cacheDir(), 'docker');
  await mkdir(join(data, 'data'), { recursive: true });
  const execRoot = await mkdtemp('/tmp/whisper-ts-docker-');
  const host = `unix://${execRoot}/docker.sock`;
  const docker: DockerEngine['docker'] = async (args, options = {}) => {
    try {
      const { stdout, stderr } = await run(DOCKER, [...args], {
        env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' },
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 1 << 26,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
    }
  };
  const proc = await startProcess({
    name: 'dockerd',
    command: 'flock',
    args: ['--no-fork', join(data, '.lock'), DOCKERD, '--data-root', join(data, 'data'), '--exec-root', join(execRoot, 'exec'),
      '--pidfile', join(execRoot, 'docker.pid'), '--host', host, '--iptables=false', '--ip6tables=false', '--bridge=none',
      '--log-level', 'warn'],
    logFile: join(runDir, 'dockerd.log'),
    // Waits behind another run's engine for up to a few minutes.
    readyTimeoutMs: 300_000,
    ready: async () => (await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 })).code === 0,
  });
  let stopped: Promise<void> | undefined;
  return {
    process: proc,
    host,
    docker,
    stop() {
      stopped ??= (async () => {
        const ids = (await docker(['ps', '-aq', '--filter', 'label=whisper-ts-test'])).stdout.split(/\s+/).filter(Boolean);
        // -v: with their anonymous volumes (the image's VOLUME /app/certs); then the tests' named volumes.
        if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
        const volumes = (await docker(['volume', 'ls', '-q', '--filter', 'label=whisper-ts-test'])).stdout.split(/\s+/).filter(Boolean);
        if (volumes.length > 0) await docker(['volume', 'rm', '-f', ...volumes]);
        // Anonymous volumes of earlier runs' containers (the engine is private to the tests: none is anyone else's).
        await docker(['volume', 'prune', '-f'], { timeoutMs: 120_000 });
        await docker(['image', 'prune', '-f'], { timeoutMs: 120_000 });
        // dockerd first, so that it stops its containerd itself; the process group only if it hangs.
        try {
          process.kill(proc.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 20_000).unref())]);
        await proc.stop(2000);
        await unmountUnder(execRoot);
        await rm(execRoot, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** The CA certificates this machine's Node trusts beyond its own (a TLS-inspecting egress proxy's, here). */
function hostExtraCa(): string | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS ?? '/etc/ssl/certs/ca-certificates.crt';
  return existsSync(file) ? file : undefined;
}

/**
 * Makes {@link BASE_IMAGE} present in the engine: the root filesystem from `scripts/env/base-image.sh` (cached)
 * imported with the official image's settings, plus the CA certificates this machine trusts, so that `npm ci` in the
 * Dockerfile reaches the registry through this network's egress proxy (as a company's base image carries its CA).
 * The certificates change between machines, so they are a layer of their own, not part of the cached tarball. An
 * image made for another Node version or other certificates is replaced.
 */
export async function ensureBaseImage(engine: DockerEngine, nodeVersion: string): Promise<void> {
  const ca = hostExtraCa();
  const caText = ca ? await readFile(ca) : Buffer.alloc(0);
  const stamp = `${nodeVersion}-${createHash('sha256').update(caText).digest('hex').slice(0, 16)}`;
  const have = await engine.docker(['image', 'inspect', '--format', '{{index .Config.Labels "whisper-ts.base"}}', BASE_IMAGE]);
  if (have.code === 0 && have.stdout.trim() === stamp) return;

  const rootfs = `whisper-ts-test/node-rootfs:${nodeVersion}`;
  if ((await engine.docker(['image', 'inspect', rootfs])).code !== 0) {
    const script = resolve(import.meta.dirname, '../../scripts/env/base-image.sh');
    const { stdout } = await run(script, [], { env: { ...process.env, NODE_VERSION: nodeVersion }, timeout: 600_000, maxBuffer: 1 << 24 });
    const tar = stdout.trim().split('\n').pop()!;
    const imported = await engine.docker(['import',
      '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change', `ENV NODE_VERSION=${nodeVersion}`,
      '--change', 'CMD ["node"]',
      tar, rootfs], { timeoutMs: 300_000 });
    if (imported.code !== 0) throw new Error(`docker import of ${tar} failed: ${imported.stderr}`);
  }
  const context = await mkdtemp(join(tmpdir(), 'whisper-base-'));
  try {
    await writeFile(join(context, 'extra-ca.crt'), caText);
    await writeFile(join(context, 'Dockerfile'), [
      `FROM ${rootfs}`,
      'COPY extra-ca.crt /usr/local/share/ca-certificates/build-host-extra.crt',
      ...(ca ? ['ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/build-host-extra.crt'] : []),
      `LABEL whisper-ts.base=${stamp}`,
      '',
    ].join('\n'));
    const built = await engine.docker(['build', '--network', 'host', '--tag', BASE_IMAGE, '.'], { cwd: context, timeoutMs: 300_000 });
    if (built.code !== 0) throw new Error(`building ${BASE_IMAGE} failed: ${built.stderr}`);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
