import { describe, it, expect } from 'vitest';
import { certsEqual, diffPlans } from '../../../src/plan/planner.js';
import type { WantedCert } from '../../../src/plan/types.js';

const c = (id: string, names: string[], services: string[] = ['s']): WantedCert => ({
  id,
  kind: id.startsWith('multi-hosts') ? 'multi' : 'single',
  zone: 'example.com',
  names,
  services,
});

describe('certsEqual', () => {
  it('compares id and names, in order', () => {
    expect(certsEqual(c('a.example.com', ['a.example.com']), c('a.example.com', ['a.example.com'], ['other']))).toBe(true);
    expect(certsEqual(c('a.example.com', ['a.example.com']), c('b.example.com', ['a.example.com']))).toBe(false);
    expect(certsEqual(c('m', ['x', 'y']), c('m', ['x']))).toBe(false);
    expect(certsEqual(c('m', ['x', 'y']), c('m', ['y', 'x']))).toBe(false);
  });
});

describe('diffPlans', () => {
  it('sorts certificates into added, changed and removed by id', () => {
    const previous = { certs: [c('keep', ['k']), c('gone', ['g']), c('grow', ['a']), c('owners', ['o'], ['x'])] };
    const next = { certs: [c('new', ['n']), c('keep', ['k']), c('grow', ['a', 'b']), c('owners', ['o'], ['y']), c('another', ['z'])] };
    const diff = diffPlans(previous, next);
    expect(diff.added.map((x) => x.id)).toEqual(['another', 'new']);
    expect(diff.changed).toEqual([c('grow', ['a', 'b'])]);
    expect(diff.removed.map((x) => x.id)).toEqual(['gone']);
    expect(Object.isFrozen(diff)).toBe(true);
  });

  it('is empty for equal plans and total from or to nothing', () => {
    const plan = { certs: [c('a', ['a']), c('b', ['b'])] };
    expect(diffPlans(plan, plan)).toEqual({ added: [], changed: [], removed: [] });
    expect(diffPlans({ certs: [] }, plan).added).toHaveLength(2);
    expect(diffPlans(plan, { certs: [] }).removed).toHaveLength(2);
  });
});
