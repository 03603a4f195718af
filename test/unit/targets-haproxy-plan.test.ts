import { describe, expect, it } from 'vitest';
import { planDelivery, planRemoval } from '../../src/targets/haproxy-plan.js';

const F = '/etc/haproxy/certs/www.example.com.pem';
const OTHER = '/etc/haproxy/certs/api.example.com.pem';

describe('planDelivery', () => {
  it('renews a certificate HAProxy serves: set + commit', () => {
    expect(planDelivery(F, '0B', { store: { status: 'Used', serial: '0A' } })).toEqual({
      kind: 'steps',
      steps: ['set ssl cert', 'commit ssl cert'],
    });
  });

  it('does nothing when HAProxy already serves the serial (leading zeros and case aside)', () => {
    expect(planDelivery(F, '0a0b', { store: { status: 'Used', serial: 'A0B' } }).kind).toBe('noop');
  });

  it('adds a new certificate: new, set, commit, add to the crt-list', () => {
    expect(planDelivery(F, '0B', { inCrtList: false })).toEqual({
      kind: 'steps',
      steps: ['new ssl cert', 'set ssl cert', 'commit ssl cert', 'add ssl crt-list'],
    });
  });

  it('reuses the empty store a failed attempt left, without `new`', () => {
    expect(planDelivery(F, '0B', { store: { status: 'Empty' }, inCrtList: false })).toEqual({
      kind: 'steps',
      steps: ['set ssl cert', 'commit ssl cert', 'add ssl crt-list'],
    });
  });

  it('only adds to the crt-list when the committed store was never added (interrupted first delivery)', () => {
    expect(planDelivery(F, '0B', { store: { status: 'Unused', serial: '0B' }, inCrtList: false })).toEqual({
      kind: 'steps',
      steps: ['add ssl crt-list'],
    });
  });

  it('refuses while another file has the (single) transaction open', () => {
    expect(planDelivery(F, '0B', { transaction: OTHER, store: { status: 'Used', serial: '0A' } })).toEqual({
      kind: 'busy',
      transaction: OTHER,
    });
  });

  it('aborts its own transaction left open before starting again', () => {
    expect(planDelivery(F, '0B', { transaction: F, store: { status: 'Used', serial: '0A' } })).toEqual({
      kind: 'steps',
      steps: ['abort ssl cert', 'set ssl cert', 'commit ssl cert'],
    });
  });

  it('aborts its own open transaction even when the serial is already served', () => {
    expect(planDelivery(F, '0A', { transaction: F, store: { status: 'Used', serial: '0A' } })).toEqual({
      kind: 'steps',
      steps: ['abort ssl cert'],
    });
  });

  it('needs the folder as a crt-list for a new certificate', () => {
    expect(planDelivery(F, '0B', { inCrtList: 'no-list' })).toEqual({ kind: 'no-crt-list' });
  });

  it('renews a certificate served through some other crt-list without needing ours', () => {
    expect(planDelivery(F, '0B', { store: { status: 'Used', serial: '0A' }, inCrtList: 'no-list' }).kind).toBe('steps');
  });
});

describe('planRemoval', () => {
  it('removes the crt-list entry, then the store', () => {
    expect(planRemoval(F, { store: { status: 'Used', serial: '0A' }, inCrtList: true })).toEqual({
      kind: 'steps',
      steps: ['del ssl crt-list', 'del ssl cert'],
    });
  });

  it('is a no-op when HAProxy holds nothing', () => {
    expect(planRemoval(F, { inCrtList: false }).kind).toBe('noop');
    expect(planRemoval(F, { inCrtList: 'no-list' }).kind).toBe('noop');
  });

  it('deletes a store left out of the crt-list, and aborts its own transaction first', () => {
    expect(planRemoval(F, { transaction: F, store: { status: 'Unused', serial: '0A' }, inCrtList: false })).toEqual({
      kind: 'steps',
      steps: ['abort ssl cert', 'del ssl cert'],
    });
  });

  it("is not held up by another file's transaction", () => {
    expect(planRemoval(F, { transaction: OTHER, store: { status: 'Used' }, inCrtList: true }).kind).toBe('steps');
  });
});
