import { describe, it, expect } from 'vitest';
import { IncrementalPlanner } from '../../../src/plan/incremental.js';
import { planCertificates } from '../../../src/plan/planner.js';

/** A small deterministic generator (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = ['example.com', 'a.example.com', 'example.org', 'bad..zone', 'other.net'];
// `web` and `grafana` are service names too: a zone's lone vhost and a service's own certificate are then one.
const VHOSTS = ['www', 'api', '*', 'x*y', 'multi-hosts', 'b\u200Bad', 'a'.repeat(70), 'shop', 'web', 'grafana', 'multi-hosts.a'];
const NAMES = ['web', 'www.a', 'api', 'multi-hosts', 'grafana', 'db', 'cache', 'svc-1', 'svc-2', 'w'];

function randomTags(r: () => number): string[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const tags: string[] = [];
  const count = Math.floor(r() * 6);
  for (let i = 0; i < count; i++) {
    const kind = r();
    if (kind < 0.3) tags.push(`dns=${pick(ZONES)}`);
    else if (kind < 0.55) tags.push(`vhost=${pick(VHOSTS)}`);
    else if (kind < 0.7) tags.push('ssl=on');
    else if (kind < 0.8) tags.push('https=443');
    else tags.push(pick(['http', 'traefik.enable=true', ' dns = example.com ', 'dns=']));
  }
  return tags;
}

const asList = (catalog: Map<string, string[]>) => [...catalog].map(([name, tags]) => ({ name, tags }));

describe('IncrementalPlanner', () => {
  it('equals planCertificates of the whole catalog after every change of random sequences', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const options = { maxNames: 3, allowDomains: seed % 2 === 0 ? ['example.com'] : [], allowWildcard: seed % 4 < 2 };
      const planner = new IncrementalPlanner(options);
      const catalog = new Map<string, string[]>();
      for (let step = 0; step < 60; step++) {
        const changed = new Set<string>();
        const edits = 1 + Math.floor(r() * 3);
        for (let e = 0; e < edits; e++) {
          const name = NAMES[Math.floor(r() * NAMES.length)]!;
          if (r() < 0.2) catalog.delete(name);
          else catalog.set(name, randomTags(r));
          changed.add(name);
        }
        const reset = r() < 0.05;
        const plan = planner.update(catalog, reset ? 'all' : changed);
        expect(plan, `seed ${seed}, step ${step}`).toEqual(planCertificates(asList(catalog), options));
      }
    }
  });

  it('returns the previous plan object when no service\'s part changed (nothing asked, or a tag that changes nothing)', () => {
    const planner = new IncrementalPlanner();
    const catalog = new Map([['web', ['dns=example.com', 'ssl=on']], ['db', ['http']]]);
    const first = planner.update(catalog, 'all');
    expect(first.certs.map((c) => c.id)).toEqual(['web.example.com']);
    catalog.set('db', ['http', 'primary']);
    catalog.set('new', ['dns=example.com']);
    expect(planner.update(catalog, ['db', 'new'])).toBe(first);
    catalog.delete('db');
    expect(planner.update(catalog, ['db'])).toBe(first);
    catalog.set('web', ['dns=example.com', 'ssl=on', 'rev=2', 'http']);
    expect(planner.update(catalog, ['web'])).toBe(first);
    catalog.set('web', ['dns=example.com', 'ssl=on', 'dns=example.org']);
    expect(planner.update(catalog, ['web']).certs.map((c) => c.id)).toEqual(['web.example.com', 'web.example.org']);
  });

  it('drops the part of a service that stops asking for a certificate, or goes away', () => {
    const planner = new IncrementalPlanner();
    const catalog = new Map([
      ['web', ['dns=example.com', 'ssl=on']],
      ['a', ['dns=example.com', 'vhost=a', 'https=443']],
    ]);
    planner.update(catalog, 'all');
    catalog.set('web', ['dns=example.com']);
    expect(planner.update(catalog, ['web']).certs.map((c) => c.id)).toEqual(['a.example.com']);
    catalog.delete('a');
    expect(planner.update(catalog, ['a']).certs).toEqual([]);
  });

  it('refuses a bad option when built, as planCertificates does', () => {
    expect(() => new IncrementalPlanner({ maxNames: 0 })).toThrow(/maxNames/);
    expect(() => new IncrementalPlanner({ allowDomains: ['../etc'] })).toThrow();
  });
});
