import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWhisper, type WhisperProcess } from '../../test/support/whisper.js';
import type { TestEnv } from '../../test/support/env-types.js';

/** Where a benchmarked daemon talks to, and how it publishes TXT records. */
export interface DaemonTarget {
  /** Consul HTTP `host:port` (maybe a counting proxy). */
  consul: string;
  /** ACME directory URL and the CA of its HTTPS (maybe a proxy's). */
  directoryUrl: string;
  caBundle: string;
  dns: 'rfc2136' | 'route53';
  /** The zone the daemon may order for. */
  zone: string;
  extra?: string[];
  /** Options of `node` itself (e.g. `--cpu-prof` to profile the daemon). */
  nodeArgs?: string[];
}

/** A daemon under benchmark with its folder and notify key. */
export interface BenchDaemon {
  readonly w: WhisperProcess;
  readonly folder: string;
  readonly notify: string;
  readonly pid: number;
}

/** Starts the built CLI with `--rate-limits none` on a fresh folder (or `folder`). */
export async function startDaemon(env: TestEnv, target: DaemonTarget, folder?: string): Promise<BenchDaemon> {
  const base = await mkdtemp(join(tmpdir(), 'whisper-bench-'));
  const certDir = folder ?? join(base, 'certs');
  const notify = `whisper-bench/${Math.random().toString(36).slice(2, 8)}`;
  const dnsArgs: string[] = [];
  if (target.dns === 'rfc2136') {
    const secretFile = join(base, 'tsig.secret');
    await writeFile(secretFile, env.bind.tsig.secret, { mode: 0o600 });
    dnsArgs.push('--dns-provider', 'rfc2136', '--rfc2136-server', env.bind.addr, '--rfc2136-tsig-name', env.bind.tsig.name,
      '--rfc2136-tsig-algorithm', env.bind.tsig.algorithm, '--rfc2136-tsig-secret-file', secretFile, '--dns-resolver', env.bind.addr);
  } else {
    dnsArgs.push('--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint, '--dns-resolver', env.dnsFront.addr);
  }
  const w = startWhisper([certDir, '--consul', target.consul, '--directory-url', target.directoryUrl, '--ca-bundle', target.caBundle,
    // Certificates one after the other, each timed to its notify bump: at the default --notify-interval (5 s) every
    // bump after the first would wait out the throttle, which measures the interval, not the issuance.
    ...dnsArgs, '--allow-domain', target.zone, '--notify', notify, '--notify-interval', '1', '--rate-limits', 'none', ...(target.extra ?? [])], {}, target.nodeArgs);
  if (w.child.pid === undefined) throw new Error('whisper-ts did not start');
  return { w, folder: certDir, notify, pid: w.child.pid };
}

/** Polls `check` every `everyMs` until it is true; throws after `timeoutMs` naming `what`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 120_000, everyMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** True when the file exists. */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** The notify key's `files`, or [] (JSON written by the daemon). */
export async function notifiedFiles(consul: string, key: string): Promise<string[]> {
  const res = await fetch(`http://${consul}/v1/kv/${key}?raw`);
  if (!res.ok) return [];
  try {
    return (JSON.parse(await res.text()) as { files?: string[] }).files ?? [];
  } catch {
    return [];
  }
}

/** Registers services on the agent, `parallel` requests at a time. */
export async function register(consul: string, services: Array<{ name: string; tags: string[] }>, parallel = 32): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < services.length) {
      const s = services[next++]!;
      const res = await fetch(`http://${consul}/v1/agent/service/register`, {
        method: 'PUT',
        body: JSON.stringify({ ID: s.name, Name: s.name, Tags: s.tags, Port: 8443 }),
      });
      if (!res.ok) throw new Error(`register ${s.name}: ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, services.length) }, worker));
}

/** Tags that give a service a certificate of its own, `<name>.<zone>.pem`. */
export const certTags = (zone: string): string[] => [`dns=${zone}`, 'ssl=offloading'];
