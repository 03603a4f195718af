import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createHaproxyTarget } from '../../src/targets/haproxy.js';
import type { DeliveryContext, DeliveryItem, Target } from '../../src/targets/types.js';
import { fakeHaproxy } from './targets-haproxy-fake.js';

const FOLDER = '/srv/certs';
const A = `${FOLDER}/a.test.pem`;
const B = `${FOLDER}/b.test.pem`;
const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

function item(id: string, serial: string, key = KEY): DeliveryItem {
  return {
    id,
    names: [id],
    serial,
    notBefore: new Date(0),
    notAfter: new Date(0),
    key,
    cert: `-----BEGIN CERTIFICATE-----\nSERIAL=${serial}\n-----END CERTIFICATE-----\n`,
    chain: '',
    // whisper-ts's own view of the folder may differ from HAProxy's: only the file name counts.
    path: `/var/lib/whisper/${id}.pem`,
  };
}

const ctx: DeliveryContext = { memo: {}, log: silentLogger(), now: () => 0 };
const signal = new AbortController().signal;

let hx: Awaited<ReturnType<typeof fakeHaproxy>>;
let target: Target;
beforeEach(async () => {
  hx = await fakeHaproxy({ [FOLDER]: [A] });
  target = createHaproxyTarget({ socket: hx.path, certFolder: `${FOLDER}/` });
});
afterEach(() => hx.close());

const changes = () => hx.commands.filter((c) => !c.startsWith('show '));

describe('createHaproxyTarget', () => {
  it('is per instance and named after its socket', () => {
    expect(target.perInstance).toBe(true);
    expect(target.name).toBe(`haproxy:${hx.path}`);
    expect(createHaproxyTarget({ socket: '127.0.0.1:9999', certFolder: FOLDER }).name).toBe('haproxy:127.0.0.1:9999');
  });

  it('refuses an unusable socket or folder', () => {
    expect(() => createHaproxyTarget({ socket: 'nope', certFolder: FOLDER })).toThrow(expect.objectContaining({ code: 'TARGET_CONFIG' }));
    expect(() => createHaproxyTarget({ socket: hx.path, certFolder: '/a b' })).toThrow(expect.objectContaining({ code: 'TARGET_CONFIG' }));
  });

  it('renews a served certificate with set + commit, once', async () => {
    await expect(target.deliver(item('a.test', '0A02'), ctx, signal)).resolves.toEqual({ detail: 'set ssl cert + commit ssl cert' });
    expect(changes()).toEqual([`set ssl cert ${A}`, `commit ssl cert ${A}`]);
    expect(hx.stores.get(A)).toEqual({ status: 'Used', serial: '0A02' });
    await expect(target.deliver(item('a.test', '0A02'), ctx, signal)).resolves.toEqual({ detail: expect.stringContaining('already serves') });
    expect(changes()).toHaveLength(2);
  });

  it('adds a new certificate to the folder crt-list', async () => {
    await target.deliver(item('b.test', '0B01'), ctx, signal);
    expect(changes()).toEqual([`new ssl cert ${B}`, `set ssl cert ${B}`, `commit ssl cert ${B}`, `add ssl crt-list ${FOLDER} ${B}`]);
    expect(hx.stores.get(B)).toEqual({ status: 'Used', serial: '0B01' });
  });

  it('removes a certificate, and a second removal is a no-op', async () => {
    await target.remove!({ id: 'a.test', path: '/var/lib/whisper/a.test.pem' }, ctx, signal);
    expect(changes()).toEqual([`del ssl crt-list ${FOLDER} ${A}`, `del ssl cert ${A}`]);
    expect(hx.stores.has(A)).toBe(false);
    await expect(target.remove!({ id: 'a.test', path: '/x/a.test.pem' }, ctx, signal)).resolves.toEqual({ detail: expect.stringContaining('no longer') });
    expect(changes()).toHaveLength(2);
  });

  it('leaves a certificate in place when its file is back in the folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hx-back-'));
    try {
      await writeFile(join(dir, 'a.test.pem'), 'x');
      await expect(target.remove!({ id: 'a.test', path: join(dir, 'a.test.pem') }, ctx, signal)).resolves.toEqual({
        detail: expect.stringContaining('again'),
      });
      expect(hx.commands).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('aborts its transaction when the commit fails, and succeeds once fixed', async () => {
    await expect(target.deliver(item('a.test', '0A02', ''), ctx, signal)).rejects.toMatchObject({ code: 'TARGET_HAPROXY', retryable: false });
    expect(changes()).toEqual([`set ssl cert ${A}`, `commit ssl cert ${A}`, `abort ssl cert ${A}`]);
    expect(hx.transaction).toBeUndefined();
    await target.deliver(item('a.test', '0A02'), ctx, signal);
    expect(hx.stores.get(A)?.serial).toBe('0A02');
  });

  it('deletes the empty store it created when a new certificate fails, leaving no transaction', async () => {
    const bad = { ...item('b.test', '0B01'), cert: 'not a certificate' };
    await expect(target.deliver(bad, ctx, signal)).rejects.toMatchObject({ code: 'TARGET_HAPROXY', retryable: false });
    expect(changes()).toEqual([`new ssl cert ${B}`, `set ssl cert ${B}`, `abort ssl cert ${B}`, `del ssl cert ${B}`]);
    expect(hx.stores.has(B)).toBe(false);
    expect(hx.transaction).toBeUndefined();
  });

  it("waits while another file's transaction is open, without touching it", async () => {
    hx.openTransaction('/elsewhere/x.pem');
    await expect(target.deliver(item('a.test', '0A02'), ctx, signal)).rejects.toMatchObject({ code: 'TARGET_HAPROXY', retryable: true });
    expect(changes()).toEqual([]);
    expect(hx.transaction).toBe('/elsewhere/x.pem');
  });

  it('takes its PEM back out of a transaction opened meanwhile by someone else (HAProxy 2.6 quirk)', async () => {
    hx.faults.set('set ssl cert', 'Transaction updated for certificate /elsewhere/x.pem!\n\n');
    await expect(target.deliver(item('a.test', '0A02'), ctx, signal)).rejects.toMatchObject({ retryable: true });
    expect(changes()).toEqual([`set ssl cert ${A}`, 'abort ssl cert /elsewhere/x.pem']);
  });

  it('aborts its own transaction left by an interrupted run, then delivers', async () => {
    hx.openTransaction(A);
    await target.deliver(item('a.test', '0A02'), ctx, signal);
    expect(changes()).toEqual([`abort ssl cert ${A}`, `set ssl cert ${A}`, `commit ssl cert ${A}`]);
  });

  it('says which crt-lists HAProxy has when the folder is not one of them (not retryable)', async () => {
    const wrong = createHaproxyTarget({ socket: hx.path, certFolder: '/other' });
    await expect(wrong.deliver(item('b.test', '0B01'), ctx, signal)).rejects.toMatchObject({
      code: 'TARGET_HAPROXY',
      retryable: false,
      message: expect.stringContaining(`its crt-lists: ${FOLDER}`),
    });
    expect(changes()).toEqual([]);
  });

  it('runs deliveries one at a time (HAProxy has one transaction)', async () => {
    await Promise.all([target.deliver(item('a.test', '0A02'), ctx, signal), target.deliver(item('b.test', '0B01'), ctx, signal)]);
    expect(changes()).toEqual([
      `set ssl cert ${A}`, `commit ssl cert ${A}`,
      `new ssl cert ${B}`, `set ssl cert ${B}`, `commit ssl cert ${B}`, `add ssl crt-list ${FOLDER} ${B}`,
    ]);
  });

  it('fails retryable when HAProxy is down, and never puts key material in the message', async () => {
    await hx.close();
    const err: Error = await target.deliver(item('a.test', '0A02'), ctx, signal).then(() => new Error('resolved'), (e: Error) => e);
    expect(err).toMatchObject({ code: 'TARGET_HAPROXY', retryable: true });
    expect(err.message).not.toContain('MIGH');
    hx = await fakeHaproxy({});
  });

  it('names the socket when HAProxy answers something unexpected (a socket without level admin)', async () => {
    hx.faults.set('show ssl cert', 'Permission denied\n\n');
    await expect(target.deliver(item('a.test', '0A02'), ctx, signal)).rejects.toMatchObject({
      code: 'TARGET_HAPROXY',
      retryable: false,
      message: expect.stringContaining(hx.path),
    });
  });

  it('stops with ABORTED on abort', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(target.deliver(item('a.test', '0A02'), ctx, ac.signal)).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
