import { describe, it, expect } from 'vitest';
import { applyCatalog } from '../../../src/consul/diff.js';

describe('applyCatalog', () => {
  it('sorts tags, drops duplicates, and marks everything changed on an empty snapshot', () => {
    const snapshot = new Map<string, readonly string[]>();
    const d = applyCatalog(snapshot, { web: ['ssl=on', 'dns=example.com', 'ssl=on'], api: [], '10': ['b', 'a'] });
    expect(snapshot).toEqual(new Map([['10', ['a', 'b']], ['api', []], ['web', ['dns=example.com', 'ssl=on']]]));
    expect([...d.changed].sort()).toEqual(['10', 'api', 'web']);
    expect(d.removed.size).toBe(0);
  });

  it('reports only services whose tag set changed, and leaves the others untouched', () => {
    const snapshot = new Map<string, readonly string[]>();
    applyCatalog(snapshot, { a: ['x'], b: ['y', 'z'], c: ['q'] });
    const a = snapshot.get('a');
    const b = snapshot.get('b');
    const d = applyCatalog(snapshot, { a: ['x'], b: ['z', 'y', 'y'], c: ['q', 'r'], d: [] });
    expect([...d.changed].sort()).toEqual(['c', 'd']);
    expect(d.removed.size).toBe(0);
    expect(snapshot.get('a')).toBe(a);
    expect(snapshot.get('b')).toBe(b);
    expect(snapshot.get('c')).toEqual(['q', 'r']);
  });

  it('finds removed services, also when as many new ones came at the same time', () => {
    const snapshot = new Map<string, readonly string[]>();
    applyCatalog(snapshot, { a: [], b: [], c: [] });
    expect([...applyCatalog(snapshot, { a: [], c: [] }).removed]).toEqual(['b']);
    expect([...snapshot.keys()].sort()).toEqual(['a', 'c']);
    const swapped = applyCatalog(snapshot, { a: [], d: [] });
    expect([...swapped.removed]).toEqual(['c']);
    expect([...swapped.changed]).toEqual(['d']);
    expect([...snapshot.keys()].sort()).toEqual(['a', 'd']);
  });
});
