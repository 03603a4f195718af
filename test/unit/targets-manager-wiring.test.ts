import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Reconciler } from '../../src/reconcile.js';
import { silentLogger } from '../../src/log.js';
import type { WantedCert } from '../../src/plan/types.js';
import type { Issuer } from '../../src/acme/types.js';
import { RenewalManager } from '../../src/lifecycle/manager.js';
import { RateBudget } from '../../src/limits/budget.js';
import { StateKeeper } from '../../src/state/keeper.js';
import { emptyState } from '../../src/state/types.js';
import { createFolderStore } from '../../src/store/folder.js';
import { readBundleItem } from '../../src/targets/bundle.js';
import { makeBundle } from './store/x509-fixture.js';

const NOW = Date.UTC(2026, 1, 1);
const DAY = 86_400_000;
const Z = 'example.com';

let dir: string;
let serial = 500n;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-wiring-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A reconciler on a real folder whose delivery hooks record what the targets would get. */
function setup() {
  const log = silentLogger();
  const store = createFolderStore(path.join(dir, 'certs'));
  const state = new StateKeeper(dir, emptyState(), log, async () => undefined);
  const renewal = new RenewalManager({
    state,
    renewalInfoUrl: async () => undefined,
    fetch: async () => {
      throw new Error('no ARI here');
    },
    enqueue: () => undefined,
    timers: { setTimeout: () => 0, clearTimeout: () => undefined },
    now: () => NOW,
    random: () => 0.5,
    log,
  });
  const issuer = {
    ensureAccount: async () => undefined,
    issue: async (cert: WantedCert) => {
      const b = makeBundle([...cert.names], { notAfter: new Date(NOW + 89 * DAY), serial: serial++ });
      return { key: b.key, cert: b.cert, chain: b.chain };
    },
  } satisfies Issuer;
  const events: string[] = [];
  const items: Array<{ id: string; serial: string; key: string; path: string }> = [];
  const enqueued: WantedCert[] = [];
  const r = new Reconciler({
    store,
    issuer,
    renewal,
    budget: new RateBudget(),
    state,
    log,
    allowDomains: [],
    now: () => NOW,
    enqueue: (c) => enqueued.push(c),
    forget: () => undefined,
    notify: (f) => events.push(`notify ${f.join(',')}`),
    delivered: (item) => {
      events.push(`delivered ${item.id}`);
      items.push(item);
    },
    removed: (item) => events.push(`removed ${item.id} ${path.relative(dir, item.path)}`),
  });
  const plan = async (services: Record<string, string[]>) => {
    r.update(new Map(Object.entries(services)), 'all');
    for (const cert of enqueued.splice(0)) await r.ensure(cert, new AbortController().signal);
  };
  return { events, items, plan };
}

describe('the reconciler hands the targets each certificate it writes and each file it removes', () => {
  it('after the notify; the removal of a superseded file after the new one is delivered', async () => {
    const t = setup();
    await t.plan({ web: [`dns=${Z}`, 'vhost=www', 'https=443'] });
    expect(t.events).toEqual([`notify www.${Z}.pem`, `delivered www.${Z}`]);
    // The item holds the bundle as written: the same as the file read back (a resumed delivery).
    const written = t.items[0]!;
    const again = await readBundleItem(written.id, written.path);
    expect(again).toMatchObject({ id: written.id, serial: written.serial, path: written.path });
    expect(again?.key.trim()).toBe(written.key.trim());

    t.events.length = 0;
    await t.plan({ web: [`dns=${Z}`, 'vhost=www', 'https=443'], api: [`dns=${Z}`, 'vhost=api', 'https=443'] });
    expect(t.events).toEqual([`notify multi-hosts.${Z}.pem`, `delivered multi-hosts.${Z}`, `notify www.${Z}.pem`, `removed www.${Z} certs/www.${Z}.pem`]);
  });
});
