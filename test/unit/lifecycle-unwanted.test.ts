import { describe, it, expect } from 'vitest';
import { dueForRemoval, type UnwantedFile } from '../../src/lifecycle/unwanted.js';

const DAY = 86_400_000;
const del = (days: number) => ({ kind: 'delete', afterMs: days * DAY }) as const;
const file = (id: string, over: Partial<UnwantedFile> = {}): UnwantedFile => ({ id, ours: true, unwantedSince: 0, onRemoval: del(7), ...over });

describe('dueForRemoval', () => {
  it('deletes a file whisper-ts wrote once it has been unwanted for its delete_after, and says when the next falls due', () => {
    const v = dueForRemoval([file('old', { unwantedSince: 0 }), file('young', { unwantedSince: 5 * DAY })], new Set(), 8 * DAY);
    expect(v.due).toEqual(['old']);
    expect(v.nextAt).toBe(12 * DAY);
  });

  it('never deletes a kept, foreign, wanted or never-unwanted file', () => {
    const files = [
      file('kept', { onRemoval: { kind: 'keep' } }),
      file('whispers', { ours: false }),
      file('wanted'),
      file('unknown', { unwantedSince: undefined }),
    ];
    expect(dueForRemoval(files, new Set(['wanted']), 100 * DAY)).toEqual({ due: [] });
  });

  it('is due exactly at the boundary', () => {
    expect(dueForRemoval([file('a', { unwantedSince: DAY })], new Set(), 8 * DAY).due).toEqual(['a']);
    expect(dueForRemoval([file('a', { unwantedSince: DAY })], new Set(), 8 * DAY - 1)).toEqual({ due: [], nextAt: 8 * DAY });
  });
});
