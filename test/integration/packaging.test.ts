import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { eventually, registerService, uniq } from '../support/whisper.js';
import '../support/env-types.js';

// No Docker engine runs here: the Dockerfile's own steps are replayed in a temp folder standing for the
// image's root, so a change to the Dockerfile is what this test exercises.
const env = inject('env');
const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

interface Step {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly steps: Step[];
}

/** Instructions of a Dockerfile by stage (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const joined = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of joined) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line not understood: ${line}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), steps: [] });
    } else {
      stages.at(-1)!.steps.push({ op, args });
    }
  }
  return stages;
}

const args = (stage: Stage, op: string) => stage.steps.filter((s) => s.op === op).map((s) => s.args);
const execForm = (text: string) => JSON.parse(text.replace(/^.*?CMD\s+/, '')) as string[];

/** The ENV pairs of a stage (`ENV A=1 B=2`). */
function imageEnv(stage: Stage, at: (p: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args(stage, 'ENV')) {
    for (const m of a.matchAll(/(\w+)=("[^"]*"|\S+)/g)) out[m[1]!] = at(m[2]!.replace(/^"|"$/g, ''));
  }
  return out;
}

/** An image of the Dockerfile's last stage, replayed into a temp folder. */
interface Image {
  readonly dir: string;
  readonly stage: Stage;
  /** A path of the image, in the temp folder. */
  at(path: string): string;
  /** RUN commands not replayed (they need root or the image's users). */
  readonly skipped: string[];
}

async function replay(): Promise<Image> {
  const dir = await tempDir('whisper-image-');
  const at = (p: string) => (p.startsWith('/') ? join(dir, p) : p);
  const stages = parseDockerfile(await readFile(join(root, 'Dockerfile'), 'utf8'));
  const stage = stages.at(-1)!;
  const skipped: string[] = [];
  let cwd = dir;
  for (const { op, args: a } of stage.steps) {
    if (op === 'WORKDIR') {
      cwd = resolve(cwd, at(a));
      await mkdir(cwd, { recursive: true });
    } else if (op === 'COPY') {
      const words = a.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const dest = resolve(cwd, at(paths.pop()!));
      for (const src of paths) {
        let source = join(root, src);
        if (from !== undefined) {
          // Another stage's output: the build stage's commands are the repository's build (dist/ is built first).
          const other = stages.find((s) => s.name === from)!;
          expect(args(other, 'RUN')).toContain('npm run build');
          source = join(root, relative(args(other, 'WORKDIR').at(-1)!, src));
        }
        const target = paths.length > 1 || dest.endsWith('/') || a.trimEnd().endsWith('/') ? join(dest, src.split('/').pop()!) : dest;
        await cp(source, target, { recursive: true });
      }
    } else if (op === 'RUN') {
      for (const part of a.split('&&').map((p) => p.trim())) {
        if (/^npm (ci|install)\b/.test(part)) await run('sh', ['-c', part], { cwd, maxBuffer: 1 << 24 });
        else if (/^mkdir -p /.test(part)) for (const p of part.split(/\s+/).slice(2)) await mkdir(resolve(cwd, at(p)), { recursive: true });
        else skipped.push(part);
      }
    }
  }
  return { dir, stage, at, skipped };
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runIn(command: string, argv: readonly string[], extraEnv: Record<string, string>, cwd: string): Promise<Result> {
  return new Promise((done, fail) => {
    // A clean environment as in a container: nothing of the test runner's AWS or whisper settings leaks in.
    const child = spawn(command, argv, { cwd, env: { PATH: process.env.PATH ?? '', ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('the Docker image (Dockerfile replayed without Docker)', () => {
  let image: Image;
  let home: string;
  beforeAll(async () => {
    image = await replay();
    home = await tempDir('whisper-home-');
  });

  const entrypoint = (argv: readonly string[], extraEnv: Record<string, string> = {}) => {
    const [command, ...fixed] = JSON.parse(args(image.stage, 'ENTRYPOINT')[0]!) as string[];
    return runIn(image.at(command!), [...fixed.map(image.at), ...argv], { HOME: home, ...imageEnv(image.stage, image.at), ...extraEnv }, image.dir);
  };

  it('runs as a non-root user on a slim Node LTS, production dependencies only, certificates in a volume', () => {
    expect(image.stage.from).toMatch(/^node:(2[02468]|[3-9][02468])-\w+-slim$/);
    expect(args(image.stage, 'USER').at(-1)).not.toMatch(/^(root|0)$/);
    expect(args(image.stage, 'VOLUME').join(' ')).toContain('/app/certs');
    expect(args(image.stage, 'RUN').join(' ')).toMatch(/npm ci --omit=dev/);
    // Only ownership and mode changes are left out of the replay.
    for (const s of image.skipped) expect(s).toMatch(/^(chown|chmod|npm cache clean)\b/);
  });

  it("starts from the entrypoint with whisper's environment: CONSUL, STAGING=\"-s\", ACME_REGISTER_EMAIL (a dry run plans the service)", async () => {
    const zone = `pkg${uniq()}.whisper.test`;
    const name = `web-${uniq()}`;
    await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
    const whisperEnv = { CONSUL: env.consul.httpAddr, DEBUG: '-d', STAGING: '-s', ACME_REGISTER_EMAIL: 'ops@example.com' };
    const r = await entrypoint(['--dryrun', '--allow-domain', zone, '--notify', `whisper-tests/${zone}`], whisperEnv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`would order  ${name}.${zone}.pem  [${name}.${zone}]`);
    // STAGING="-s" was read: it refuses to be combined with another CA's directory.
    const both = await entrypoint(['--dryrun'], { ...whisperEnv, ACME_DIRECTORY_URL: 'https://ca.example/dir' });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--staging');
  });

  it('runs the daemon with DEBUG="-d" (debug logs) and stops cleanly on SIGTERM through the entrypoint', async () => {
    const zone = `pkg${uniq()}.whisper.test`;
    const [command, ...fixed] = JSON.parse(args(image.stage, 'ENTRYPOINT')[0]!) as string[];
    const child = spawn(image.at(command!), [...fixed.map(image.at), '--allow-domain', zone, '--notify', `whisper-tests/${zone}`], {
      cwd: image.dir,
      env: {
        PATH: process.env.PATH ?? '', HOME: home, ...imageEnv(image.stage, image.at),
        CONSUL: env.consul.httpAddr, DEBUG: '-d', ACME_REGISTER_EMAIL: 'ops@example.com',
        ACME_DIRECTORY_URL: env.pebble.directoryUrl, WHISPER_CA_BUNDLE: env.pebble.tlsCaFile, WHISPER_DNS_RESOLVERS: env.dnsFront.addr,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await eventually('a debug log line', () => out.split('\n').some((l) => l.startsWith('{"level":20')));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, out).toBe(0);
  });

  it("uses whisper's /root/.aws/credentials mount when ~/.aws/credentials does not exist", async () => {
    const legacy = join(image.dir, 'root/.aws/credentials');
    await mkdir(join(image.dir, 'root/.aws'), { recursive: true });
    await writeFile(legacy, '[example.com]\naws_access_key_id = x\naws_secret_access_key = y\n', { mode: 0o600 });
    const withLegacy = { WHISPER_LEGACY_AWS_CREDENTIALS: legacy };

    const picked = await entrypoint(['--version'], withLegacy);
    expect(picked.code).toBe(0);
    expect(picked.stderr).toContain(`AWS credentials file ${legacy}`);
    expect(picked.stderr).not.toContain('aws_secret_access_key');

    const explicit = await entrypoint(['--version'], { ...withLegacy, AWS_SHARED_CREDENTIALS_FILE: join(home, 'other') });
    expect(explicit.stderr).toBe('');

    await mkdir(join(home, '.aws'), { recursive: true });
    await writeFile(join(home, '.aws/credentials'), '[default]\n', { mode: 0o600 });
    const own = await entrypoint(['--version'], withLegacy);
    expect(own.code).toBe(0);
    expect(own.stderr).toBe('');
    await rm(join(home, '.aws'), { recursive: true });
  });

  it('HEALTHCHECK passes without WHISPER_LISTEN and asks GET /healthz with it', async () => {
    const health = args(image.stage, 'HEALTHCHECK')[0]!;
    const [command, ...argv] = execForm(health).map(image.at);
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      expect((await runIn(command!, argv, {}, image.dir)).code).toBe(0);
      expect((await runIn(command!, argv, { WHISPER_LISTEN: `0.0.0.0:${port}` }, image.dir)).code).toBe(0);
      expect((await runIn(command!, argv, { WHISPER_LISTEN: `:${port}` }, image.dir)).code).toBe(0);
      expect(paths).toEqual(['/healthz', '/healthz']);
      status = 503;
      expect((await runIn(command!, argv, { WHISPER_LISTEN: `127.0.0.1:${port}` }, image.dir)).code).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('npm pack', () => {
  it('packs dist/*.js, README and package.json only, and the installed tarball runs `npx whisper-ts --help`', async () => {
    const out = await tempDir('whisper-pack-');
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: root, maxBuffer: 1 << 24 });
    const [pack] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = pack!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/bin.js', 'dist/cli.js']));
    expect(files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/.*\.(js|d\.ts))$/.test(f))).toEqual([]);
    expect(files.filter((f) => /^(src|test|scripts|bench|docker)\//.test(f))).toEqual([]);

    const app = await tempDir('whisper-install-');
    await writeFile(join(app, 'package.json'), '{ "private": true }\n');
    await run('npm', ['install', '--no-audit', '--no-fund', join(out, pack!.filename)], { cwd: app, maxBuffer: 1 << 24 });
    const help = await runIn('npx', ['--no', '--', 'whisper-ts', '--help'], { HOME: app }, app);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--consul <host>');
    expect(help.stdout).toContain('Usage: whisper-ts');
  });
});
