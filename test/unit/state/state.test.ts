import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it, expect } from 'vitest';
import { RateBudget } from '../../../src/limits/budget.js';
import { decodeState, encodeState } from '../../../src/state/codec.js';
import { loadState, saveState, statePath } from '../../../src/state/file.js';
import { STATE_FILE, emptyState, type WhisperState } from '../../../src/state/types.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const HOUR = 3_600_000;
const now = () => T0;

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'whisper-state-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function sample(): WhisperState {
  return {
    budget: [
      { type: 'order', at: T0 - HOUR, names: ['a.example.com'] },
      { type: 'order', at: T0 - HOUR, names: ['b.example.com'], renewal: true },
      { type: 'authzFailure', at: T0 - 2 * HOUR, identifier: 'c.example.com' },
      { type: 'rateLimited', at: T0, until: T0 + HOUR, names: ['a.example.com'], replaces: true, bucket: 'exactSet' },
    ],
    certs: {
      'a.example.com': {
        nextRenewal: new Date(T0 + 24 * HOUR),
        ariChosen: true,
        ariWindow: { start: new Date(T0), end: new Date(T0 + 48 * HOUR) },
        ariRetryAfter: new Date(T0 + 6 * HOUR),
        written: '1234ABCD',
      },
      'multi-hosts.example.com': {
        lastError: { at: new Date(T0 - HOUR), code: 'DNS_PROPAGATION_TIMEOUT', message: 'no TXT at ns1 after 120 s' },
        deferredUntil: new Date(T0 + 2 * HOUR),
        ariChosen: false,
        renewRequested: { at: new Date(T0 - HOUR), by: 'dashboard' },
      },
      'imported.example.org': { imported: { names: ['imported.example.org', 'www.imported.example.org'], at: new Date(T0 - 2 * HOUR) }, written: '0ABC' },
    },
  };
}

describe('state file', () => {
  it('round-trips through save and load, mode 0600, dates as ISO strings', async () => {
    await saveState(dir, sample());
    const stat = await fsp.stat(statePath(dir));
    expect(stat.mode & 0o777).toBe(0o600);
    const text = await fsp.readFile(path.join(dir, STATE_FILE), 'utf8');
    expect(JSON.parse(text)).toMatchObject({ version: 1, certs: { 'a.example.com': { nextRenewal: '2026-03-02T00:00:00.000Z' } } });
    const loaded = await loadState(dir, { now });
    expect(loaded).toEqual({ state: sample() });
    // No temporary file is left behind.
    expect(await fsp.readdir(dir)).toEqual([STATE_FILE]);
  });

  it('feeds a RateBudget that decides the same after a restart', async () => {
    const budget = new RateBudget();
    for (let i = 0; i < 5; i += 1) budget.recordOrder({ names: ['a.example.com'] }, T0);
    await saveState(dir, { ...emptyState(), budget: budget.events(T0) });
    const { state } = await loadState(dir, { now });
    const restored = new RateBudget({ events: state.budget });
    expect(restored.check({ names: ['a.example.com'] }, T0 + HOUR)).toEqual(budget.check({ names: ['a.example.com'] }, T0 + HOUR));
    expect(restored.check({ names: ['a.example.com'] }, T0 + HOUR).ok).toBe(false);
  });

  it('rebuilds the budget from the certificates when there is no state file', async () => {
    const loaded = await loadState(dir, {
      now,
      rebuild: async () => [
        { names: ['b.example.com'], notBefore: new Date(T0 - HOUR) },
        { names: ['a.example.com'], notBefore: new Date(T0 - 2 * HOUR) },
      ],
    });
    expect(loaded.problem).toBeUndefined();
    expect(loaded.state).toEqual({
      budget: [
        { type: 'order', at: T0 - 2 * HOUR, names: ['a.example.com'] },
        { type: 'order', at: T0 - HOUR, names: ['b.example.com'] },
      ],
      certs: {},
    });
    expect(await loadState(dir, { now })).toEqual({ state: emptyState() });
  });

  it('keeps a corrupt file aside, reports it, and rebuilds the budget', async () => {
    await fsp.writeFile(statePath(dir), '{"version": 1, "budget": [', { mode: 0o600 });
    const loaded = await loadState(dir, { now, rebuild: () => [{ names: ['a.example.com'], notBefore: new Date(T0 - HOUR) }] });
    expect(loaded.state).toEqual({ budget: [{ type: 'order', at: T0 - HOUR, names: ['a.example.com'] }], certs: {} });
    const aside = `${STATE_FILE}.corrupt-20260301T000000Z`;
    expect(loaded.problem).toContain('not JSON');
    expect(loaded.problem).toContain(aside);
    expect((await fsp.readdir(dir)).sort()).toEqual([aside]);
    expect(await fsp.readFile(path.join(dir, aside), 'utf8')).toBe('{"version": 1, "budget": [');
  });

  it('treats a wrong shape or another version as corrupt, naming the faulty field', async () => {
    const cases: [unknown, string][] = [
      [[], 'the file is not an object'],
      [{ version: 2, budget: [], certs: {} }, 'version 2 is not 1'],
      [{ version: 1, budget: {}, certs: {} }, 'budget is not a list'],
      [{ version: 1, budget: [{ type: 'order', at: 'yesterday', names: ['a'] }], certs: {} }, 'budget[0].at is not a date'],
      [{ version: 1, budget: [{ type: 'order', at: '2026-01-01T00:00:00Z', names: [] }], certs: {} }, 'budget[0].names is not a list'],
      [{ version: 1, budget: [{ type: 'party', at: '2026-01-01T00:00:00Z' }], certs: {} }, 'budget[0].type is unknown'],
      [{ version: 1, budget: [], certs: { x: { ariChosen: 'yes' } } }, 'certs.x.ariChosen is not a boolean'],
      [{ version: 1, budget: [], certs: { x: { lastError: { at: '2026-01-01T00:00:00Z', code: 'X' } } } }, 'certs.x.lastError.message'],
      [{ version: 1, budget: [] }, 'certs is not an object'],
    ];
    for (const [content, why] of cases) {
      expect(() => decodeState(JSON.stringify(content)), why).toThrow(why);
    }
    await fsp.writeFile(statePath(dir), JSON.stringify({ version: 2, budget: [], certs: {} }));
    const loaded = await loadState(dir, { now });
    expect(loaded.problem).toContain('version 2 is not 1');
    expect(loaded.state).toEqual(emptyState());
  });

  it('keeps a certificate id like __proto__ as data', () => {
    const state = decodeState(encodeState({ budget: [], certs: { ['__proto__']: { ariChosen: true } } }));
    expect(Object.keys(state.certs)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(state.certs)).toBe(Object.prototype);
  });

  it('reports an unreadable state file as STORE_READ instead of discarding it', async () => {
    await fsp.mkdir(statePath(dir));
    await expect(loadState(dir, { now })).rejects.toMatchObject({ code: 'STORE_READ' });
  });
});
