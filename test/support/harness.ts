import { afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createZone } from './certs.js';
import type { TestEnv } from './env-types.js';
import { startWhisper, uniq, type WhisperProcess } from './whisper.js';

/**
 * The daemons, zones and folders of one integration test file, all stopped and removed after its last test:
 * `daemon()` starts the built CLI, `folderAndZone()` makes a Route53 zone and a temp folder, `dnsArgs()` points a
 * daemon at this run's Consul and Route53 emulator for that zone. Push other cleanups into `cleanups`.
 */
export function daemonHarness(env: TestEnv, prefix: string) {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });
  return {
    cleanups,
    daemon(args: string[]): WhisperProcess {
      const w = startWhisper(args);
      cleanups.push(() => w.stop());
      return w;
    },
    async folderAndZone() {
      const zone = `${prefix}${uniq()}.whisper.test`;
      await createZone(env, zone);
      const base = await mkdtemp(join(tmpdir(), `whisper-${prefix}-`));
      cleanups.push(() => rm(base, { recursive: true, force: true }));
      return { zone, base, folder: join(base, 'certs') };
    },
    dnsArgs(zone: string): string[] {
      return ['--consul', env.consul.httpAddr, '--dns-resolver', env.dnsFront.addr, '--dns-provider', 'route53',
        '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone, '--notify', `whisper-tests/${zone}`];
    },
  };
}
