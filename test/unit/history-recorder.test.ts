import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerError } from '../../src/acme/problems.js';
import { WhisperError } from '../../src/errors.js';
import { openHistory } from '../../src/history/db.js';
import { createRecorder, historyProblem } from '../../src/history/recorder.js';
import type { HistoryStore } from '../../src/history/types.js';
import type { OpsEvent, OpsEvents } from '../../src/ops/types.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function bus(): OpsEvents & { seen: OpsEvent[] } {
  const seen: OpsEvent[] = [];
  return { seen, publish: (e) => void seen.push(e), subscribe: () => () => undefined };
}

describe('createRecorder', () => {
  let dir: string;
  let store: HistoryStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whisper-recorder-'));
    store = openHistory(dir, { instance: 'i:1', now: () => T0 });
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('dates events by its clock unless they say when, stores and publishes the row', () => {
    const events = bus();
    const record = createRecorder(store, { events, now: () => T0 + 5 });
    record({ kind: 'order', cert: 'a', reason: 'missing' });
    record({ kind: 'issued', cert: 'a', at: new Date(T0 - 1000) });
    const rows = store.query();
    expect(rows.map((r) => r.at)).toEqual([new Date(T0 - 1000), new Date(T0 + 5)]);
    expect(events.seen).toEqual([
      { type: 'history', row: rows[1] },
      { type: 'history', row: rows[0] },
    ]);
  });

  it('without a store, or when the store cannot write, drops the event and publishes nothing', () => {
    const events = bus();
    expect(() => createRecorder(undefined, { events })({ kind: 'order' })).not.toThrow();
    store.close();
    expect(() => createRecorder(store, { events })({ kind: 'order' })).not.toThrow();
    expect(events.seen).toEqual([]);
  });

  it('a failing listener never reaches the caller', () => {
    const record = createRecorder(store, { events: { publish: () => { throw new Error('gone'); }, subscribe: () => () => undefined } });
    expect(() => record({ kind: 'notified' })).not.toThrow();
    expect(store.query()).toHaveLength(1);
  });

  it('works without events', () => {
    createRecorder(store)({ kind: 'account', by: 'cli' });
    expect(store.query()[0]).toMatchObject({ kind: 'account', by: 'cli' });
  });
});

describe('historyProblem', () => {
  const answer = {
    status: 400,
    headers: {},
    data: {
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Error creating new order',
      subproblems: [{ type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'bad name', identifier: { type: 'dns', value: 'x.invalid' } }],
    },
  };

  it('takes type, detail, status and subproblems from a mapped CA answer', () => {
    const err = answerError('certificate x', 'https://ca/order', answer, new Date(T0));
    expect(historyProblem(err)).toEqual({
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Error creating new order',
      status: 400,
      // The identifier the CA named survives the mapping (RFC 8555 §6.7.1): the dashboard shows which name failed.
      subproblems: [{ type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'bad name', identifier: 'x.invalid' }],
    });
  });

  it('follows the causes of a wrapping error; keeps a subproblem\'s identifier when given', () => {
    const inner = new WhisperError('ACME_ORDER', 'refused', { cause: { ...answer.data, status: 400 } });
    const outer = new WhisperError('ACME_ORDER', 'job failed', { cause: inner });
    expect(historyProblem(outer)?.subproblems).toEqual([{ type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'bad name', identifier: 'x.invalid' }]);
  });

  it('is undefined without a problem document', () => {
    expect(historyProblem(new Error('plain'))).toBeUndefined();
    expect(historyProblem(new WhisperError('DNS_PROVIDER', 'x', { cause: new Error('y') }))).toBeUndefined();
    expect(historyProblem(undefined)).toBeUndefined();
    expect(historyProblem('text')).toBeUndefined();
  });
});
