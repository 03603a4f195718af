import { describe, it, expect, afterEach } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { buildConfig } from '../../src/config.js';
import { runHa } from '../../src/ha/run.js';
import { combinedPem } from '../../src/ha/kv-store.js';
import type { ConsulApi, KvListing } from '../../src/consul/api.js';
import type { CertStore, StoredCert } from '../../src/store/types.js';
import type { DeliveryItem, Target } from '../../src/targets/types.js';
import { makeBundle } from './store/x509-fixture.js';
import { FakeTimers, settle } from './consul/fakes.js';
import { fakeSessionConsul, hang, sleepOn } from './ha/fake-ha.js';

const noFiles = (f: string): string => {
  throw new Error(`unexpected read of ${f}`);
};

/** Lets callbacks run until `check` holds: the follower reads its local journal from disk first, so turns alone may not do. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check() && Date.now() < deadline) await settle();
  expect(check()).toBe(true);
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A follower under `--ha --store consul`: Consul KV lists one certificate (another instance leads), then blocks. */
function follower(dir: string) {
  const bundle = makeBundle(['web.example.com']);
  const leaf = new X509Certificate(bundle.cert);
  const listings: KvListing[] = [{ index: 11, items: [{ key: 'whisper/certs/web.example.com', value: combinedPem(bundle), modifyIndex: 10 }] }];
  const ha = fakeSessionConsul();
  const consul: ConsulApi = {
    ...ha.api,
    catalogServices: () => Promise.reject(new Error('a follower does not watch the catalog')),
    kvGet: async () => undefined,
    leader: async () => '127.0.0.1:8300',
    kvSet: async () => undefined,
    kvAcquire: async () => false,
    kvRelease: async () => false,
    kvRead: async (key, q) => ((q.index ?? 0) > 0 ? hang(q.signal) : { index: 5, item: { key, value: '', session: 'other', modifyIndex: 5 } }),
    kvList: async (_prefix, q) => listings.shift() ?? hang(q.signal),
  };
  let stored: StoredCert | undefined;
  const folder: CertStore = {
    read: async () => stored,
    list: async () => [],
    readAccount: async () => undefined,
    writeAccount: async () => undefined,
    async write(id) {
      stored = { id, path: join(dir, `${id}.pem`), names: [id], notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo), serial: leaf.serialNumber.toUpperCase(), issuer: leaf.issuer, cert: bundle.cert };
      return stored;
    },
  };
  return { consul, folder, bundle, serial: leaf.serialNumber.toUpperCase() };
}

function recorder(name: string, perInstance: boolean): { target: Target; items: DeliveryItem[] } {
  const items: DeliveryItem[] = [];
  return { items, target: { name, perInstance, deliver: async (item) => void items.push(item) } };
}

describe('a follower\'s deliveries (--ha --store consul)', () => {
  it('give the certificate it copies from KV to its per-instance targets only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-follow-'));
    dirs.push(dir);
    const f = follower(dir);
    const local = recorder('haproxy:/run/haproxy.sock', true);
    const shared = recorder('acm://eu-west-1', false);
    const timers = new FakeTimers();
    const config = buildConfig(dir, { ha: true, store: 'consul' }, { env: {}, cwd: '/srv', readFile: noFiles });
    const stop = new AbortController();
    const run = runHa(
      {
        config,
        log: silentLogger(),
        consul: f.consul,
        folder: f.folder,
        sleep: sleepOn(timers),
        timers,
        now: () => timers.now,
        pipeline: () => Promise.reject(new Error('a follower runs no pipeline')),
        targets: [local.target, shared.target],
      },
      stop.signal,
    );
    await until(() => local.items.length === 1);
    expect(local.items[0]).toMatchObject({ id: 'web.example.com', serial: f.serial, key: f.bundle.key, path: join(dir, 'web.example.com.pem') });
    expect(shared.items).toEqual([]);
    stop.abort();
    await run;
  });
});
