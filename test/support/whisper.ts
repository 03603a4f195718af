import { afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestEnv } from './env-types.js';

/** The built CLI, as users run it. `scripts/test.sh` builds before the tests run. */
export const BIN = resolve(import.meta.dirname, '../../dist/bin.js');

/** A whisper-ts daemon run by a test, with its log lines parsed. */
export interface WhisperProcess {
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Raw stdout + stderr. */
  output(): string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<number | null>;
}

/** Arguments that point whisper-ts at the test environment's Consul and Pebble. */
export function envArgs(env: TestEnv): string[] {
  return ['--consul', env.consul.httpAddr, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, '--dns-resolver', env.dnsFront.addr];
}

/** Starts `node [nodeArgs] dist/bin.js <args>` with debug logs. */
export function startWhisper(args: readonly string[], extraEnv: Record<string, string> = {}, nodeArgs: readonly string[] = []): WhisperProcess {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args, '--debug'], {
    env: {
      ...process.env,
      ACME_REGISTER_EMAIL: 'tests@example.com',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      AWS_CONFIG_FILE: '/nonexistent',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    logs,
    output: () => raw,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `check` every 100 ms until it returns a value, or fails after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The file's content once it exists. */
export async function fileOnce(path: string): Promise<string | undefined> {
  try {
    await stat(path);
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Registers a service on the agent. */
export async function registerService(env: TestEnv, name: string, tags: string[], id = name): Promise<void> {
  const res = await fetch(`http://${env.consul.httpAddr}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify({ ID: id, Name: name, Tags: tags, Port: 8443 }),
  });
  if (!res.ok) throw new Error(`register ${name}: ${res.status}`);
}

/** Deregisters a service instance. */
export async function deregisterService(env: TestEnv, id: string): Promise<void> {
  await fetch(`http://${env.consul.httpAddr}/v1/agent/service/deregister/${encodeURIComponent(id)}`, { method: 'PUT' });
}

/** Reads a KV value (decoded), or undefined. */
export async function kvGet(env: TestEnv, key: string): Promise<string | undefined> {
  const res = await fetch(`http://${env.consul.httpAddr}/v1/kv/${key}?raw`);
  if (res.status === 404) return undefined;
  return res.text();
}

/** A short random suffix for names that must not clash between tests. */
export function uniq(): string {
  return Math.random().toString(36).slice(2, 8);
}

/**
 * Daemons and temporary folders of one test file, stopped and removed after its last test. Push into the arrays
 * as they are made.
 */
export function cleanupAfterAll(): { running: WhisperProcess[]; dirs: string[] } {
  const running: WhisperProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(running.map((w) => w.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  return { running, dirs };
}
