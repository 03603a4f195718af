import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { Reconciler } from '../../../src/reconcile.js';
import { silentLogger } from '../../../src/log.js';
import type { WantedCert } from '../../../src/plan/types.js';
import type { CertStore } from '../../../src/store/types.js';
import type { Issuer } from '../../../src/acme/types.js';
import { RenewalManager } from '../../../src/lifecycle/manager.js';
import { RateBudget } from '../../../src/limits/budget.js';
import { StateKeeper } from '../../../src/state/keeper.js';
import { emptyState } from '../../../src/state/types.js';

const NOW = Date.UTC(2026, 10, 23);

function fakes(listenPaths: readonly string[] = ['s'], staticDomains?: readonly (readonly string[])[]) {
  const enqueued: Array<[string, string, readonly string[]]> = [];
  const forgotten: string[] = [];
  const warnings: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => {
    const line = JSON.parse(s) as Record<string, unknown>;
    if (line.level === 40) warnings.push(line);
  } });
  const store = {
    read: async () => undefined,
    list: async () => [],
    write: async () => { throw new Error('not here'); },
    readAccount: async () => undefined,
    writeAccount: async () => undefined,
  } satisfies CertStore;
  const issuer = { ensureAccount: async () => undefined, issue: async () => ({ key: 'k', cert: 'c', chain: '' }) } satisfies Issuer;
  const state = new StateKeeper('/certs', emptyState(), silentLogger(), async () => undefined);
  const renewal = new RenewalManager({
    state, renewalInfoUrl: async () => undefined, fetch: async () => { throw new Error('no ARI here'); },
    enqueue: () => undefined, timers: { setTimeout: () => 0, clearTimeout: () => undefined },
    now: () => NOW, random: () => 0.5, log: silentLogger(),
  });
  const r = new Reconciler({
    store, issuer, renewal, budget: new RateBudget(), state, log, allowDomains: ['example.com'], now: () => NOW, listenPaths,
    ...(staticDomains ? { staticDomains } : {}),
    enqueue: (c: WantedCert, reason) => enqueued.push([c.id, reason, c.names]),
    forget: (id) => forgotten.push(id),
    notify: () => undefined,
  });
  return { r, enqueued, forgotten, warnings };
}

const entries = (o: Record<string, string>) => new Map(Object.entries(o));
const catalog = (o: Record<string, string[]>) => new Map(Object.entries(o));

describe('Reconciler.updateStatic', () => {
  it('queues nothing before the catalog was read, then one start with the catalog\'s and the static certificates together', () => {
    const { r, enqueued } = fakes();
    r.updateStatic('s', entries({ 's/example.com/www': 'SAN', 's/example.com/api': '' }));
    expect(enqueued).toEqual([]);
    expect(r.wanted).toEqual([]);
    r.update(catalog({ shop: ['dns=example.com', 'vhost=shop', 'https=443'] }), 'all');
    expect(enqueued).toEqual([
      ['api.example.com', 'start', ['api.example.com']],
      ['multi-hosts.example.com', 'start', ['shop.example.com', 'www.example.com']],
    ]);
    expect(r.find('multi-hosts.example.com')?.services).toEqual(['kv:s/example.com/www', 'shop']);
  });

  it('queues the certificates of --static-domains (DOMAINS) at start with the catalog\'s, even an empty catalog', () => {
    const { r, enqueued } = fakes([], [['static.example.com', 'www.static.example.com']]);
    expect(r.wanted).toEqual([]);
    r.update(catalog({}), 'all');
    expect(enqueued).toEqual([['static.example.com', 'start', ['static.example.com', 'www.static.example.com']]]);
    const more = fakes([], [['static.example.com']]);
    more.r.update(catalog({ web: ['dns=example.com', 'ssl=on'] }), 'all');
    expect(more.enqueued.map(([id, reason]) => [id, reason]).sort()).toEqual([['static.example.com', 'start'], ['web.example.com', 'start']]);
  });

  it('after the catalog: queues an added entry, re-queues a changed certificate, forgets a removed one', () => {
    const { r, enqueued, forgotten } = fakes();
    r.update(catalog({ web: ['dns=example.com', 'ssl=on'] }), 'all');
    r.updateStatic('s', entries({ 's/example.com/api': '' }));
    r.updateStatic('s', entries({ 's/example.com/api': '', 's/example.com/a': 'SAN', 's/example.com/b': 'SAN' }));
    r.updateStatic('s', entries({ 's/example.com/a': 'SAN', 's/example.com/b': 'SAN', 's/example.com/c': 'SAN' }));
    expect(enqueued.map(([id, reason]) => [id, reason])).toEqual([
      ['web.example.com', 'start'],
      ['api.example.com', 'added'],
      ['multi-hosts.example.com', 'added'],
      ['multi-hosts.example.com', 'names changed'],
    ]);
    expect(forgotten).toEqual(['api.example.com']);
    expect(r.wanted.map((c) => c.id)).toEqual(['multi-hosts.example.com', 'web.example.com']);
  });

  it('queues nothing when the entries did not change what is wanted, and keeps one certificate wanted by a service too', () => {
    const { r, enqueued, forgotten } = fakes();
    r.update(catalog({ web: ['dns=example.com', 'ssl=on'] }), 'all');
    r.updateStatic('s', entries({ 's/example.com/web': '' }));
    r.updateStatic('s', entries({ 's/example.com/web': 'whatever' }));
    expect(enqueued.map(([id]) => id)).toEqual(['web.example.com']);
    // The service goes away: the static entry still wants it; nothing forgotten, nothing queued.
    r.update(catalog({}), new Set(['web']));
    r.updateStatic('s', entries({}));
    expect(forgotten).toEqual(['web.example.com']);
    expect(enqueued).toHaveLength(1);
  });

  it('logs a bad entry once, naming its key, when it appears; again only when it reappears', () => {
    const { r, warnings, enqueued } = fakes();
    const bad = { 's/example.com/a b': '', 's/example.org/www': 'SAN', 's/example.com': '', 's/example.com/x/y': '' };
    r.updateStatic('s', entries(bad));
    expect(warnings).toEqual([]);
    r.update(catalog({}), 'all');
    const keys = (ws: Array<Record<string, unknown>>) => ws.map((w) => w.service).sort();
    expect(keys(warnings)).toEqual(['kv:s/example.com', 'kv:s/example.com/a b', 'kv:s/example.com/x/y', 'kv:s/example.org/www']);
    expect(warnings.find((w) => w.service === 'kv:s/example.org/www')).toMatchObject({ code: 'DOMAIN_NOT_ALLOWED' });
    expect(String(warnings.find((w) => w.service === 'kv:s/example.com/x/y')?.msg)).toContain('"kv:s/example.com/x/y"');
    warnings.length = 0;
    // More changes, of the catalog and of the entries: the bad ones are not logged again.
    r.updateStatic('s', entries({ ...bad, 's/example.com/good': '' }));
    r.update(catalog({ web: ['dns=example.com', 'ssl=on'] }), new Set(['web']));
    expect(warnings).toEqual([]);
    expect(enqueued.map(([id]) => id)).toEqual(['good.example.com', 'web.example.com']);
    // Gone, then back: logged again.
    r.updateStatic('s', entries({ 's/example.com/good': '' }));
    r.updateStatic('s', entries({ 's/example.com/good': '', 's/example.com/a b': '' }));
    expect(keys(warnings)).toEqual(['kv:s/example.com/a b']);
  });
});
