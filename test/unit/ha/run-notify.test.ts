import { describe, it, expect } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { silentLogger } from '../../../src/log.js';
import { buildConfig } from '../../../src/config.js';
import { runHa } from '../../../src/ha/run.js';
import { combinedPem } from '../../../src/ha/kv-store.js';
import type { ConsulApi, KvListing } from '../../../src/consul/api.js';
import type { CertStore, StoredCert } from '../../../src/store/types.js';
import { makeBundle } from '../store/x509-fixture.js';
import { FakeTimers, settle } from '../consul/fakes.js';
import { fakeSessionConsul, hang, sleepOn } from './fake-ha.js';

const noFiles = (f: string): string => {
  throw new Error(`unexpected read of ${f}`);
};

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await settle();
  expect(check()).toBe(true);
}

/**
 * A follower (another instance holds the lock) with `--store consul`: Consul KV lists one certificate, then the
 * same one again (nothing new), then blocks. The folder's write of that certificate ends only when the test says.
 */
function follower() {
  const bundle = makeBundle(['web.example.com']);
  const leaf = new X509Certificate(bundle.cert);
  const events: string[] = [];
  const listings: KvListing[] = [1, 2].map((n) => ({ index: 10 + n, items: [{ key: 'whisper/certs/web.example.com', value: combinedPem(bundle), modifyIndex: 10 }] }));
  let lists = 0;
  const ha = fakeSessionConsul();
  const consul: ConsulApi = {
    ...ha.api,
    catalogServices: () => Promise.reject(new Error('a follower does not watch the catalog')),
    kvGet: async () => undefined,
    leader: async () => '127.0.0.1:8300',
    async kvSet(key, value) {
      events.push(`kvSet ${key} ${JSON.parse(value).files.join(',')}`);
    },
    // Another instance leads: the lock is taken and stays so.
    kvAcquire: async () => false,
    kvRelease: async () => false,
    kvRead: async (key, q) => ((q.index ?? 0) > 0 ? hang(q.signal) : { index: 5, item: { key, value: '', session: 'other', modifyIndex: 5 } }),
    kvList: async (_prefix, q) => {
      lists++;
      return listings.shift() ?? hang(q.signal);
    },
  };
  let stored: StoredCert | undefined;
  let finish: () => void = () => undefined;
  const folder: CertStore = {
    read: async () => stored,
    list: async () => [],
    readAccount: async () => undefined,
    writeAccount: async () => undefined,
    write: (id) =>
      new Promise<StoredCert>((resolve) => {
        events.push(`write ${id} started`);
        finish = () => {
          stored = { id, path: `/srv/certs/${id}.pem`, names: [id], notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo), serial: leaf.serialNumber.toUpperCase(), issuer: leaf.issuer, cert: bundle.cert };
          events.push(`write ${id} done`);
          resolve(stored);
        };
      }),
  };
  return { consul, folder, events, lists: () => lists, finishWrite: () => finish() };
}

describe('runHa: a follower\'s notify key', () => {
  it('is bumped only once the follower has written the certificate, never on the leader\'s KV change alone', async () => {
    const f = follower();
    const timers = new FakeTimers();
    const config = buildConfig('/srv/certs', { ha: true, store: 'consul' }, { env: {}, cwd: '/srv', readFile: noFiles });
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
      },
      stop.signal,
    );
    await until(() => f.events.includes('write web.example.com started'));
    // The leader's KV change is here and the file is being written: HAProxy must not reload yet.
    await settle();
    expect(f.events).toEqual(['write web.example.com started']);
    f.finishWrite();
    await until(() => f.events.some((e) => e.startsWith('kvSet')));
    expect(f.events).toEqual(['write web.example.com started', 'write web.example.com done', 'kvSet whisper/updated web.example.com.pem']);
    // The same certificate listed again (a KV change that writes nothing here): no bump.
    await until(() => f.lists() === 3);
    await settle();
    expect(f.events.filter((e) => e.startsWith('kvSet'))).toHaveLength(1);
    stop.abort();
    await run;
  });
});
