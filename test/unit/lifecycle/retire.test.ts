import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Reconciler } from '../../../src/reconcile.js';
import { createLogger } from '../../../src/log.js';
import { WhisperError } from '../../../src/errors.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { Issuer } from '../../../src/acme/types.js';
import { RenewalManager } from '../../../src/lifecycle/manager.js';
import { RateBudget } from '../../../src/limits/budget.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState, type WhisperState } from '../../../src/state/types.js';
import { createFolderStore } from '../../../src/store/folder.js';
import type { CertStore } from '../../../src/store/types.js';
import { makeBundle } from '../store/x509-fixture.js';

const NOW = Date.UTC(2026, 1, 1);
const DAY = 86_400_000;
const Z = 'example.com';
const WWW = `www.${Z}`;
const MULTI = `multi-hosts.${Z}`;

let dir: string;
let serial = 100n;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'whisper-retire-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const bundle = (names: string[]) => {
  const b = makeBundle(names, { notAfter: new Date(NOW + 89 * DAY), serial: serial++ });
  return { key: b.key, cert: b.cert, chain: b.chain };
};

/** The files of the folder (dot files left out), sorted. */
const files = async (): Promise<string[]> => (await fsp.readdir(path.join(dir, 'certs'))).filter((f) => !f.startsWith('.')).sort();

function setup(options: { state?: WhisperState; wrap?: (store: CertStore) => CertStore } = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger({ destination });
  const folder = createFolderStore(path.join(dir, 'certs'), { formats: ['haproxy', 'certbot', 'pkcs12'], formatsDir: path.join(dir, 'formats') });
  const store = options.wrap ? options.wrap(folder) : folder;
  const state = new StateKeeper(dir, options.state ?? emptyState(), log, async () => undefined);
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
    issue: async (cert: WantedCert) => bundle([...cert.names]),
  } satisfies Issuer;
  const events: string[] = [];
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
  });
  const catalog = new Map<string, string[]>();
  /** Sets the catalog, then runs every job the plan change queued (as the queue would). */
  const plan = async (services: Record<string, string[]>) => {
    catalog.clear();
    for (const [name, tags] of Object.entries(services)) catalog.set(name, tags);
    r.update(catalog, 'all');
    for (const cert of enqueued.splice(0)) await r.ensure(cert, new AbortController().signal);
  };
  /** Sets the catalog without running the jobs; returns them. */
  const replan = (services: Record<string, string[]>): WantedCert[] => {
    catalog.clear();
    for (const [name, tags] of Object.entries(services)) catalog.set(name, tags);
    r.update(catalog, 'all');
    return enqueued.splice(0);
  };
  return { r, state, folder, lines, events, plan, replan };
}

const one = { web: [`dns=${Z}`, 'vhost=www', 'https=443'] };
const two = { ...one, api: [`dns=${Z}`, 'vhost=api', 'https=443'] };

describe('superseded files: written first, then the old one removed', () => {
  it('a zone grows to two vhosts and back: one file for the names at each step, extra formats and state follow', async () => {
    const t = setup();
    await t.plan(one);
    expect(await files()).toEqual([`${WWW}.pem`]);
    expect(t.state.cert(WWW).written).toMatch(/^[0-9A-F]+$/);
    expect((await fsp.readdir(path.join(dir, 'formats'))).sort()).toEqual([WWW, `${WWW}.p12`]);

    t.events.length = 0;
    await t.plan(two);
    expect(await files()).toEqual([`${MULTI}.pem`]);
    // The new file's notify first, then the removal's: HAProxy reloads on a consistent folder.
    expect(t.events).toEqual([`notify ${MULTI}.pem`, `notify ${WWW}.pem`]);
    expect(t.state.ids()).not.toContain(WWW);
    expect((await fsp.readdir(path.join(dir, 'formats'))).sort()).toEqual([MULTI, `${MULTI}.p12`]);
    const removed = t.lines.find((l) => l.msg === `removed ${WWW}.pem: ${MULTI}.pem holds its names now`);
    expect(removed).toMatchObject({ file: `${WWW}.pem`, by: [`${MULTI}.pem`], names: [WWW] });

    t.events.length = 0;
    await t.plan(one);
    expect(await files()).toEqual([`${WWW}.pem`]);
    expect(t.events).toEqual([`notify ${WWW}.pem`, `notify ${MULTI}.pem`]);
    expect((await fsp.readdir(path.join(dir, 'formats'))).sort()).toEqual([WWW, `${WWW}.p12`]);
  });

  it('keeps a file whisper-ts did not write, and says HAProxy has two certificates for its names', async () => {
    const t = setup();
    // whisper's file: a valid certificate for the zone's single name, no state.
    await t.folder.write(WWW, bundle([WWW]));
    await t.plan(two);
    expect(await files()).toEqual([`${MULTI}.pem`, `${WWW}.pem`]);
    const warning = t.lines.find((l) => l.level === 40 && l.file === `${WWW}.pem`);
    expect(warning).toMatchObject({ by: [`${MULTI}.pem`], names: [WWW] });
    expect(String(warning?.msg)).toContain(`${WWW}.pem and ${MULTI}.pem both hold ${WWW}: HAProxy now has two certificates for those names`);
    expect(String(warning?.msg)).toMatch(/remove it/);
    // A file whose serial is not the one whisper-ts wrote (copied over ours by hand) is not ours either.
    const t2 = setup();
    await t2.plan(one);
    await t2.folder.write(WWW, bundle([WWW]));
    await t2.plan(two);
    expect(await files()).toEqual([`${MULTI}.pem`, `${WWW}.pem`]);
  });

  it('an upgrade from 0.2 (no `written` serial): its one-name multi-hosts file goes once <name>.pem is in place', async () => {
    // whisper-ts 0.2 named a lone vhost's certificate multi-hosts.<zone>; its state knew the id, without a serial.
    const legacy = emptyState();
    legacy.certs[MULTI] = { ca: 'https://ca.example/dir' };
    const t = setup({ state: legacy });
    await t.folder.write(MULTI, bundle([WWW]));
    await t.plan(one);
    expect(await files()).toEqual([`${WWW}.pem`]);
  });

  it('a one-name multi-hosts file the state never knew (copied in by hand) is kept', async () => {
    const t = setup();
    await t.folder.write(MULTI, bundle([WWW]));
    await t.plan(one);
    expect(await files()).toEqual([`${MULTI}.pem`, `${WWW}.pem`]);
  });

  it('a removal that fails is logged, never fatal, and done at the next sweep', async () => {
    let failing = true;
    const t = setup({
      wrap: (inner) => ({
        ...inner,
        async remove(id: string) {
          if (failing) throw new WhisperError('STORE_WRITE', `cannot remove certificate ${id}: EACCES`, { retryable: true });
          await inner.remove!(id);
        },
      }),
    });
    await t.plan(one);
    await t.plan(two);
    expect(await files()).toEqual([`${MULTI}.pem`, `${WWW}.pem`]);
    expect(t.lines.find((l) => l.level === 40 && l.file === `${WWW}.pem`)).toMatchObject({ code: 'STORE_WRITE' });
    expect(t.state.cert(WWW).written).toBeDefined();
    failing = false;
    t.events.length = 0;
    await t.r.sweep();
    expect(await files()).toEqual([`${MULTI}.pem`]);
    expect(t.events).toEqual([`notify ${WWW}.pem`]);
  });

  it('a run stopped between the write and the removal finishes it when it first finds the new file valid', async () => {
    const first = setup();
    await first.plan(one);
    await first.plan(two);
    // As if the removal had not happened: the single file back, still recorded as ours.
    await first.folder.write(WWW, bundle([WWW]));
    const www = await first.folder.read(WWW);
    const state = first.state.state;
    state.certs[WWW] = { written: www!.serial };

    const again = setup({ state });
    await again.plan(two);
    expect(again.lines.filter((l) => l.msg === 'ordering certificate')).toEqual([]);
    expect(await files()).toEqual([`${MULTI}.pem`]);
  });

  it('a job that was running when the zone grew writes the single file late: it goes at once, multi-hosts has its name', async () => {
    const t = setup();
    const [late] = t.replan(one);
    const jobs = t.replan(two);
    for (const cert of jobs) await t.r.ensure(cert, new AbortController().signal);
    expect(await files()).toEqual([`${MULTI}.pem`]);
    await t.r.ensure(late!, new AbortController().signal);
    expect(await files()).toEqual([`${MULTI}.pem`]);
    expect(t.events).toEqual([`notify ${MULTI}.pem`, `notify ${WWW}.pem`, `notify ${WWW}.pem`]);
  });

  it('a zone of two whose second vhost moves to a certificate of its own: the multi-host file waits for both names', async () => {
    const t = setup();
    await t.plan(two);
    // api stops being a vhost and becomes a service certificate: www alone, api alone.
    await t.plan({ ...one, api: [`dns=${Z}`, 'ssl=on'] });
    expect(await files()).toEqual([`api.${Z}.pem`, `${WWW}.pem`]);
  });
});
