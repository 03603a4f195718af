import { describe, it, expect } from 'vitest';
import { createAllowList } from '../../../src/plan/allow.js';
import { IncrementalPlanner } from '../../../src/plan/incremental.js';
import { assemblePlan, type PlanOptions } from '../../../src/plan/planner.js';
import { planService, type ServicePlan } from '../../../src/plan/service.js';
import { nestedPrefixes, planStatic } from '../../../src/plan/static.js';

/** mulberry32, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PREFIXES = ['whisper/static', 'whisper/static/inner', 'other'];
const ZONES = ['example.com', 'a.example.com', 'example.org', 'bad..zone'];
const HOSTS = ['www', 'api', 'web', '*', 'multi-hosts', 'a b', 'www.a'];
const NAMES = ['web', 'www', 'api', 'shop'];

function randomKey(r: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const prefix = pick(PREFIXES);
  const shape = r();
  if (shape < 0.1) return `${prefix}/${pick(ZONES)}`;
  if (shape < 0.15) return `${prefix}/${pick(ZONES)}/`;
  if (shape < 0.2) return `${prefix}/${pick(ZONES)}/x/${pick(HOSTS)}`;
  return `${prefix}/${pick(ZONES)}/${pick(HOSTS)}`;
}

function randomTags(r: () => number): string[] {
  const zone = ZONES[Math.floor(r() * ZONES.length)]!;
  const host = HOSTS[Math.floor(r() * HOSTS.length)]!;
  return r() < 0.5 ? [`dns=${zone}`, 'ssl=on'] : [`dns=${zone}`, `vhost=${host}`, 'https=443'];
}

/** The whole plan, from scratch: every service's part and every prefix's static parts. */
function fullPlan(catalog: Map<string, string[]>, kv: Map<string, string>, options: PlanOptions) {
  const allow = createAllowList(options.allowDomains ?? []);
  const serviceOptions = { allowWildcard: options.allowWildcard === true, domains: new Set(options.domains ?? []) };
  const parts: ServicePlan[] = [];
  for (const [name, tags] of catalog) {
    const part = planService({ name, tags }, allow, serviceOptions);
    if (part) parts.push(part);
  }
  for (const prefix of PREFIXES) {
    const under = new Map([...kv].filter(([key]) => key.startsWith(`${prefix}/`)));
    parts.push(...planStatic(prefix, under, allow, { ...serviceOptions, nested: nestedPrefixes(prefix, PREFIXES) }));
  }
  return assemblePlan(parts, options.maxNames ?? 100);
}

const under = (kv: Map<string, string>, prefix: string) => new Map([...kv].filter(([key]) => key.startsWith(`${prefix}/`)));

describe('IncrementalPlanner with static entries', () => {
  it('equals the plan of every service and static entry from scratch, after every change of random sequences', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      const options = {
        maxNames: 3,
        allowDomains: seed % 2 === 0 ? ['example.com'] : [],
        allowWildcard: seed % 4 < 2,
        domains: seed % 5 === 0 ? ['example.com'] : [],
      };
      const planner = new IncrementalPlanner({ ...options, listenPaths: PREFIXES });
      const catalog = new Map<string, string[]>();
      const kv = new Map<string, string>();
      for (let step = 0; step < 50; step++) {
        if (r() < 0.4) {
          const name = NAMES[Math.floor(r() * NAMES.length)]!;
          if (r() < 0.3) catalog.delete(name);
          else catalog.set(name, randomTags(r));
          planner.update(catalog, [name]);
        } else {
          const key = randomKey(r);
          if (r() < 0.3) kv.delete(key);
          else kv.set(key, r() < 0.5 ? 'SAN' : r() < 0.5 ? '' : 'own');
          // A watcher per prefix reports its prefix's keys (a key of a nested prefix is in both listings).
          for (const prefix of PREFIXES) planner.updateStatic(prefix, under(kv, prefix));
        }
        expect(planner.plan, `seed ${seed}, step ${step}`).toEqual(fullPlan(catalog, kv, options));
      }
    }
  });

  it('returns the previous plan object when the static entries did not change what they ask', () => {
    const planner = new IncrementalPlanner();
    const first = planner.updateStatic('s', new Map([['s/example.com/api', ''], ['s/example.com/www', 'SAN']]));
    expect(first.certs.map((c) => c.names)).toEqual([['api.example.com'], ['www.example.com']]);
    // Another non-SAN value, the same entries in another order: nothing changes.
    expect(planner.updateStatic('s', new Map([['s/example.com/www', ' SAN '], ['s/example.com/api', 'own']]))).toBe(first);
    // An empty prefix that was empty.
    expect(planner.updateStatic('other', new Map())).toBe(first);
    // A key removed.
    const next = planner.updateStatic('s', new Map([['s/example.com/www', 'SAN']]));
    expect(next).not.toBe(first);
    expect(next.certs.flatMap((c) => c.names)).toEqual(['www.example.com']);
  });

  it('keeps each prefix\'s entries apart: an update of one replaces only its own', () => {
    const planner = new IncrementalPlanner();
    planner.updateStatic('a', new Map([['a/example.com/one', '']]));
    planner.updateStatic('b', new Map([['b/example.com/two', '']]));
    expect(planner.plan.certs.map((c) => c.id)).toEqual(['one.example.com', 'two.example.com']);
    planner.updateStatic('a', new Map());
    expect(planner.plan.certs.map((c) => c.id)).toEqual(['two.example.com']);
  });

  it('makes a certificate asked for by a service and a static entry one certificate, named by both', () => {
    const planner = new IncrementalPlanner();
    planner.update(new Map([['web', ['dns=example.com', 'ssl=on']], ['shop', ['dns=example.com', 'vhost=shop', 'vhost=www', 'https=443']]]), 'all');
    const plan = planner.updateStatic('s', new Map([['s/example.com/web', ''], ['s/example.com/www', 'SAN'], ['s/example.com/api', 'SAN']]));
    expect(plan.certs.map((c) => [c.id, c.names, c.services])).toEqual([
      ['multi-hosts.example.com', ['api.example.com', 'shop.example.com', 'www.example.com'], ['kv:s/example.com/api', 'kv:s/example.com/www', 'shop']],
      ['web.example.com', ['web.example.com'], ['kv:s/example.com/web', 'web']],
    ]);
    // The service going away leaves the static entry's certificate as it is.
    const after = planner.update(new Map([['shop', ['dns=example.com', 'vhost=shop', 'vhost=www', 'https=443']]]), ['web']);
    expect(after.certs.find((c) => c.id === 'web.example.com')?.services).toEqual(['kv:s/example.com/web']);
  });
});
