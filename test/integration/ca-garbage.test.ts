import { describe, it, expect, inject, afterAll } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createZone, sans, splitPem } from '../support/certs.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js';
import { envArgs, eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const running: WhisperProcess[] = [];
const proxies: FaultProxy[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(running.map((w) => w.stop()));
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A daemon talking to the shared Pebble through a fault proxy, on a zone of its own. */
async function setup() {
  const zone = `g${uniq()}.whisper.test`;
  await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-ca-garbage-'));
  dirs.push(base);
  const proxy = await startFaultProxy(base, { url: new URL(env.pebble.directoryUrl).origin, caFile: env.pebble.tlsCaFile });
  proxies.push(proxy);
  const folder = join(base, 'certs');
  const args = [folder, ...envArgs(env).map((a) => (a === env.pebble.directoryUrl ? `${proxy.url}/dir` : a === env.pebble.tlsCaFile ? proxy.caFile : a)),
    '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint, '--allow-domain', zone, '--notify', `whisper-tests/${uniq()}`];
  const w = startWhisper(args);
  running.push(w);
  return { zone, folder, proxy, w };
}

/** The queue's failure line for `id`. */
function failure(w: WhisperProcess, id: string) {
  return w.logs.find((l) => l.msg !== undefined && String(l.msg).startsWith('certificate job failed') && l.id === id);
}

async function expectFailure(t: Awaited<ReturnType<typeof setup>>, fault: (method: string, path: string) => Fault | undefined) {
  t.proxy.fault = fault;
  const name = `bad-${uniq()}`;
  const id = `${name}.${t.zone}`;
  await registerService(env, name, [`dns=${t.zone}`, 'ssl=offloading']);
  const line = await eventually(`the failure of ${id}`, () => failure(t.w, id));
  expect(['ACME_BAD_RESPONSE', 'ACME_ORDER']).toContain(line.code);
  expect(String(line.msg)).toContain(id);
  expect(t.proxy.seen.some((r) => r.faulted)).toBe(true);
  expect(t.w.child.exitCode).toBeNull();
  const files = await readdir(t.folder).catch(() => [] as string[]);
  expect(files.filter((f) => f.includes(name))).toEqual([]);
  return line;
}

describe('a CA that answers garbage', () => {
  it('invalid JSON on new-order: the order fails with ACME_BAD_RESPONSE, nothing written', async () => {
    const t = await setup();
    const line = await expectFailure(t, (method, path) =>
      method === 'POST' && path.includes('order-plz')
        ? { status: 201, headers: { 'content-type': 'application/json', location: `${t.proxy.url}/my-order/x` }, body: '{"status": "pending", "identifiers": [' }
        : undefined,
    );
    expect(line.code).toBe('ACME_BAD_RESPONSE');
    expect(await t.w.stop()).toBe(0);
  });

  it('an HTML 502 page on new-order: a clear error naming the certificate, nothing written', async () => {
    const t = await setup();
    const line = await expectFailure(t, (method, path) =>
      method === 'POST' && path.includes('order-plz')
        ? { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }
        : undefined,
    );
    expect(String(line.msg)).toMatch(/502/);
    expect(String(line.msg)).not.toContain('<html>');
    expect(await t.w.stop()).toBe(0);
  });

  it('a certificate for other names: refused with ACME_BAD_RESPONSE, nothing written', async () => {
    const t = await setup();
    // First a genuine certificate for another name, through the same proxy.
    const first = `first-${uniq()}`;
    await registerService(env, first, [`dns=${t.zone}`, 'ssl=offloading']);
    const pem = await eventually('the first certificate', () => fileOnce(join(t.folder, `${first}.${t.zone}.pem`)));
    const chain = splitPem(pem).certs.map((c) => c.toString()).join('');
    expect(sans(splitPem(pem).certs[0]!)).toEqual([`${first}.${t.zone}`]);
    const line = await expectFailure(t, (method, path) =>
      method === 'POST' && path.includes('/certZ/')
        ? { status: 200, headers: { 'content-type': 'application/pem-certificate-chain' }, body: chain }
        : undefined,
    );
    expect(line.code).toBe('ACME_BAD_RESPONSE');
    expect(String(line.msg)).toContain(`${first}.${t.zone}`);
    expect(await t.w.stop()).toBe(0);
  });
});
