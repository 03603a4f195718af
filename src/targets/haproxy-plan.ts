import { sameSerial, type CertStoreInfo } from './haproxy-commands.js';

/** One step of a plan, in the order it runs. Each is one runtime API command about the target's file. */
export type HaproxyStep =
  | 'abort ssl cert'
  | 'new ssl cert'
  | 'set ssl cert'
  | 'commit ssl cert'
  | 'add ssl crt-list'
  | 'del ssl crt-list'
  | 'del ssl cert';

/** What HAProxy holds about one file, as the target read it before deciding. */
export interface HaproxyFileState {
  /** The file of HAProxy's open transaction (at most one at a time), if any. */
  readonly transaction?: string;
  /** The store of the file, absent when HAProxy has none. */
  readonly store?: CertStoreInfo;
  /**
   * Whether the folder's crt-list holds the file: `undefined` when the crt-list was not read (the store is `Used`,
   * so nothing depends on it), `'no-list'` when HAProxy has no crt-list of that name.
   */
  readonly inCrtList?: boolean | 'no-list';
}

/** A decision: run these steps, nothing to do, or wait (refuse for now). */
export type HaproxyPlan =
  | { readonly kind: 'steps'; readonly steps: readonly HaproxyStep[] }
  | { readonly kind: 'noop'; readonly why: string }
  | { readonly kind: 'busy'; readonly transaction: string }
  | { readonly kind: 'no-crt-list' };

/**
 * What to send to put `serial` in place for `file` (pure; the target reads the state, then runs the steps):
 * - another file's transaction is open: wait (`busy`; HAProxy has one transaction at a time, and 2.6 would put our
 *   PEM into that one);
 * - our own transaction is left open (an interrupted run): abort it first;
 * - HAProxy holds the file with that serial and serves it: nothing;
 * - HAProxy holds the file: `set ssl cert` + `commit ssl cert` (a renewal), then `add ssl crt-list` when the store
 *   is in no crt-list (an interrupted first delivery);
 * - HAProxy does not hold it: `new ssl cert`, `set`, `commit`, `add ssl crt-list` (`new` is skipped for an empty
 *   store a previous attempt left), which needs the folder's crt-list.
 */
export function planDelivery(file: string, serial: string, state: HaproxyFileState): HaproxyPlan {
  if (state.transaction !== undefined && state.transaction !== file) return { kind: 'busy', transaction: state.transaction };
  const steps: HaproxyStep[] = state.transaction === file ? ['abort ssl cert'] : [];
  const store = state.store;
  const needList = store?.status !== 'Used' && state.inCrtList !== true;
  if (needList && state.inCrtList === 'no-list') return { kind: 'no-crt-list' };
  if (store === undefined) steps.push('new ssl cert');
  if (!sameSerial(store?.serial, serial)) steps.push('set ssl cert', 'commit ssl cert');
  if (needList) steps.push('add ssl crt-list');
  if (steps.length === 0) return { kind: 'noop', why: `HAProxy already serves serial ${serial}` };
  return { kind: 'steps', steps };
}

/**
 * What to send to take `file` away: abort our own open transaction, remove the crt-list entry, delete the store.
 * What is already gone is skipped, so a repeated removal is a no-op. Another file's open transaction does not
 * stand in the way: deleting touches no transaction.
 */
export function planRemoval(file: string, state: HaproxyFileState): HaproxyPlan {
  const steps: HaproxyStep[] = state.transaction === file ? ['abort ssl cert'] : [];
  if (state.inCrtList === true) steps.push('del ssl crt-list');
  if (state.store !== undefined) steps.push('del ssl cert');
  if (steps.length === 0) return { kind: 'noop', why: 'HAProxy no longer holds it' };
  return { kind: 'steps', steps };
}
