import { describe, it, expect } from 'vitest';
import { mergeBudget } from '../../../src/state/merge.js';
import type { BudgetEvent } from '../../../src/limits/replay.js';

describe('mergeBudget', () => {
  it('keeps every event either copy saw, once, in time order', () => {
    const a: BudgetEvent[] = [{ type: 'order', at: 1, names: ['a.example.com'] }, { type: 'authzFailure', at: 3, identifier: 'x.example.com' }];
    const b: BudgetEvent[] = [{ type: 'order', at: 1, names: ['a.example.com'] }, { type: 'order', at: 2, names: ['b.example.com'], renewal: true }];
    expect(mergeBudget(a, b)).toEqual([a[0], b[1], a[1]]);
    expect(mergeBudget([], b)).toEqual(b);
  });
});
