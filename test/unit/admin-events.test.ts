import { describe, it, expect } from 'vitest';
import { createOpsEvents } from '../../src/ops/events.js';
import { createAdminHub } from '../../src/admin/hub.js';
import type { OpsEvent } from '../../src/ops/types.js';
import { fakeBackend } from './admin-fake.js';

const event: OpsEvent = { type: 'changed', what: 'queue' };

describe('createOpsEvents', () => {
  it('delivers to every listener until it unsubscribes', () => {
    const events = createOpsEvents();
    const a: OpsEvent[] = [];
    const b: OpsEvent[] = [];
    const offA = events.subscribe((e) => a.push(e));
    events.subscribe((e) => b.push(e));
    events.publish(event);
    offA();
    events.publish({ type: 'changed', what: 'limits' });
    expect(a).toEqual([event]);
    expect(b).toEqual([event, { type: 'changed', what: 'limits' }]);
  });

  it('isolates a throwing listener: the others get the event, publish does not throw', () => {
    const errors: unknown[] = [];
    const events = createOpsEvents({ onListenerError: (err) => errors.push(err) });
    const got: OpsEvent[] = [];
    events.subscribe(() => {
      throw new Error('broken stream');
    });
    events.subscribe((e) => got.push(e));
    expect(() => events.publish(event)).not.toThrow();
    expect(got).toEqual([event]);
    expect(errors).toHaveLength(1);
  });

  it('lets a listener unsubscribe while an event is delivered', () => {
    const events = createOpsEvents();
    const got: string[] = [];
    const off = events.subscribe(() => (got.push('first'), off()));
    events.subscribe(() => got.push('second'));
    events.publish(event);
    events.publish(event);
    expect(got).toEqual(['first', 'second', 'second']);
  });
});

describe('createAdminHub', () => {
  it('holds the attached backend and tells the dashboards to re-read everything', () => {
    const hub = createAdminHub();
    const seen: OpsEvent[] = [];
    hub.events.subscribe((e) => seen.push(e));
    expect(hub.backend()).toBeUndefined();
    const { backend } = fakeBackend();
    hub.attach(backend);
    expect(hub.backend()).toBe(backend);
    expect(seen.map((e) => (e.type === 'changed' ? e.what : e.type)).sort()).toEqual(['account', 'certificates', 'limits', 'queue']);
    hub.attach(undefined);
    expect(hub.backend()).toBeUndefined();
  });
});
