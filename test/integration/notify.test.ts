import { describe, it, expect, inject } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { daemonHarness } from '../support/harness.js';
import { eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import '../support/env-types.js';

// The notify key during a burst of issuance, as HAProxy's watcher sees it in Consul.
const env = inject('env');
const { daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'n');

interface Bump {
  readonly at: number;
  readonly files: string[];
}

/** Records every change of a KV key (polled every 20 ms) until `stop` is called. */
function watchKey(key: string): { bumps: Bump[]; stop: () => Promise<void> } {
  const bumps: Bump[] = [];
  let running = true;
  let index = 0;
  const loop = (async () => {
    while (running) {
      const res = await fetch(`http://${env.consul.httpAddr}/v1/kv/${key}`).catch(() => undefined);
      if (res?.ok) {
        const [entry] = (await res.json()) as Array<{ ModifyIndex: number; Value: string }>;
        if (entry && entry.ModifyIndex !== index) {
          index = entry.ModifyIndex;
          const value = JSON.parse(Buffer.from(entry.Value, 'base64').toString('utf8')) as { files?: string[] };
          bumps.push({ at: Date.now(), files: value.files ?? [] });
        }
      } else await res?.arrayBuffer();
      await sleep(20);
    }
  })();
  return {
    bumps,
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('notify key', () => {
  it('a burst: the first change at once, then at most once per --notify-interval, every file named once it is written', async () => {
    const t = await folderAndZone();
    const key = `whisper-tests/${t.zone}`;
    const watch = watchKey(key);
    const w = daemon([t.folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...dnsArgs(t.zone), '--notify-interval', '2']);
    const names = Array.from({ length: 6 }, (_, i) => `b${i}-${uniq()}`);
    for (const name of names) {
      await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
      await sleep(300);
    }
    const files = names.map((n) => `${n}.${t.zone}.pem`);
    for (const f of files) await eventually(f, () => fileOnce(join(t.folder, f)), 60_000);
    await eventually('every file named', () => (files.every((f) => watch.bumps.some((b) => b.files.includes(f))) ? true : undefined), 15_000);
    await watch.stop();
    expect(await w.stop()).toBe(0);

    const { bumps } = watch;
    // Leading edge: the first bump follows the first file at once (it used to wait out a 1 s debounce).
    const firstFile = Math.min(...(await Promise.all(files.map(async (f) => (await stat(join(t.folder, f))).mtimeMs))));
    expect(bumps[0]!.at - firstFile).toBeLessThan(700);
    // Then never two bumps closer than the interval (less the 20 ms polling), and fewer bumps than certificates.
    for (let i = 1; i < bumps.length; i++) expect(bumps[i]!.at - bumps[i - 1]!.at).toBeGreaterThanOrEqual(1950);
    expect(bumps.length).toBeLessThan(files.length);
  }, 90_000);
});
