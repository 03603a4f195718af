import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createHaproxyTarget } from '../../src/targets/haproxy.js';
import type { DeliveryContext, DeliveryItem, Target } from '../../src/targets/types.js';
import { startHaproxy, type Haproxy, type HaproxyInfo } from '../support/haproxy.js';
import { freePort } from '../support/ports.js';
import { binaries } from '../support/paths.js';
import { daemonHarness } from '../support/harness.js';
import { deregisterService, eventually, fileOnce, registerService, uniq } from '../support/whisper.js';
import '../support/env-types.js';

const run = promisify(execFile);
const env = inject('env');
const { cleanups, daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'hxrt');
const ctx: DeliveryContext = { memo: {}, log: silentLogger(), now: () => Date.now() };
const signal = new AbortController().signal;

let base: string;
let folder: string;
let haproxy: Haproxy;
let startInfo: HaproxyInfo;

/** A leaf for `name` signed by the test CA, with a fresh random serial. */
async function leaf(name: string): Promise<{ key: string; cert: string; serial: string }> {
  const o = binaries().openssl;
  const dir = await mkdtemp(join(base, 'leaf-'));
  const serial = `1${randomBytes(7).toString('hex')}`.toUpperCase();
  const [key, csr, cert, ext] = ['k.pem', 'r.csr', 'c.pem', 'x.ext'].map((f) => join(dir, f)) as [string, string, string, string];
  await writeFile(ext, `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
  await run(o, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-subj', `/CN=${name}`, '-out', csr]);
  await run(o, ['x509', '-req', '-in', csr, '-CA', join(base, 'ca.pem'), '-CAkey', join(base, 'ca.key'), '-set_serial', `0x${serial}`, '-days', '2', '-sha256', '-extfile', ext, '-out', cert]);
  const out = { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8'), serial };
  await rm(dir, { recursive: true, force: true });
  return out;
}

/** Writes `<name>.pem` into the folder as whisper-ts does (temporary dot file, then rename) and returns its item. */
async function writeItem(name: string, c: { key: string; cert: string; serial: string }): Promise<DeliveryItem> {
  const path = join(folder, `${name}.pem`);
  const tmp = join(folder, `.${name}.pem.tmp`);
  await writeFile(tmp, c.key + c.cert, { mode: 0o600 });
  await rename(tmp, path);
  return { id: name, names: [name], serial: c.serial, notBefore: new Date(), notAfter: new Date(), key: c.key, cert: c.cert, chain: '', path };
}

/** Serial HAProxy serves for SNI `name` (its default certificate when it has none for that name, hence no checks). */
function servedSerial(name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port: haproxy.port, servername: name, rejectUnauthorized: false }, () => {
      const serial = sock.getPeerCertificate(false).serialNumber;
      sock.end();
      resolve(serial.replace(/^0+/, '').toUpperCase());
    });
    sock.setTimeout(5000, () => sock.destroy(new Error('TLS connect timeout')));
    sock.on('error', reject);
  });
}

/** Milliseconds from `since` (wall clock) until HAProxy serves `serial` for `name`; throws after 3 s. */
async function servedAfter(since: number, name: string, serial: string): Promise<number> {
  for (;;) {
    if ((await servedSerial(name).catch(() => '')) === serial) {
      const ms = Math.round(Date.now() - since);
      console.log(`${name}: serial ${serial} served ${ms} ms after the file was written`);
      return ms;
    }
    if (Date.now() - since > 3000) throw new Error(`${name}: serial ${serial} not served after 3 s`);
    await sleep(10);
  }
}

async function noTransaction(): Promise<void> {
  expect(await haproxy.runtime('show ssl cert')).not.toContain('# transaction');
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'whisper-hxrt-'));
  // The harness's cleanups run in reverse: daemons stop first, then HAProxy, then the folder goes.
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  folder = join(base, 'certs');
  await mkdir(folder);
  const o = binaries().openssl;
  await run(o, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(base, 'ca.key'), '-out', join(base, 'ca.pem'), '-days', '2', '-subj', '/CN=whisper-ts runtime API test CA']);
  await writeItem('a.hx.test', await leaf('a.hx.test'));
  // HAProxy's configuration writes the folder with a trailing slash, the target without: the same names.
  haproxy = await startHaproxy(base, `${folder}/`, { adminSocket: true });
  cleanups.push(() => haproxy.stop());
  startInfo = await haproxy.info();
});


describe('HAProxy runtime API target against the real HAProxy', () => {
  let target: Target;
  beforeAll(() => {
    target = createHaproxyTarget({ socket: haproxy.admin!.socket, certFolder: folder });
  });

  it('runs a HAProxy that supports every command used (2.2 or newer) and names files <folder>/<file>', async () => {
    const [major = 0, minor = 0] = startInfo.version.split('.').map(Number);
    expect(major * 100 + minor).toBeGreaterThanOrEqual(202);
    console.log(`HAProxy ${startInfo.version}`);
    expect(await haproxy.runtime('show ssl cert')).toContain(`${folder}/a.hx.test.pem`);
    expect(await haproxy.runtime('show ssl crt-list')).toContain(folder);
  });

  it('(a) serves a renewal within 1 s of the file being written', async () => {
    const c = await leaf('a.hx.test');
    const item = await writeItem('a.hx.test', c);
    const t0 = Date.now();
    await expect(target.deliver(item, ctx, signal)).resolves.toEqual({ detail: 'set ssl cert + commit ssl cert' });
    expect(await servedAfter(t0, 'a.hx.test', c.serial)).toBeLessThan(1000);
    await expect(target.deliver(item, ctx, signal)).resolves.toEqual({ detail: expect.stringContaining('already serves') });
    await noTransaction();
  });

  it('(b) serves a new certificate with its SNI within 1 s, also over the TCP socket', async () => {
    const tcp = createHaproxyTarget({ socket: haproxy.admin!.tcp, certFolder: `${folder}/` });
    const c = await leaf('b.hx.test');
    const item = await writeItem('b.hx.test', c);
    const t0 = Date.now();
    await expect(tcp.deliver(item, ctx, signal)).resolves.toEqual({
      detail: 'new ssl cert + set ssl cert + commit ssl cert + add ssl crt-list',
    });
    expect(await servedAfter(t0, 'b.hx.test', c.serial)).toBeLessThan(1000);
    expect(await haproxy.runtime(`show ssl crt-list ${folder}`)).toContain(`${folder}/b.hx.test.pem`);
    await noTransaction();
  });

  it('(c) takes a removed certificate away: the name is no longer served', async () => {
    const before = await servedSerial('b.hx.test');
    await unlink(join(folder, 'b.hx.test.pem'));
    await expect(target.remove!({ id: 'b.hx.test', path: join(folder, 'b.hx.test.pem') }, ctx, signal)).resolves.toEqual({
      detail: 'del ssl crt-list + del ssl cert',
    });
    expect(await haproxy.runtime('show ssl cert')).not.toContain('b.hx.test.pem');
    // Without a certificate for the name, HAProxy presents its default one (the folder's first).
    expect(await servedSerial('b.hx.test')).not.toBe(before);
    await expect(target.remove!({ id: 'b.hx.test', path: join(folder, 'b.hx.test.pem') }, ctx, signal)).resolves.toBeDefined();
  });

  it('(d) an invalid PEM fails without retry, leaves no transaction, and the fixed file is then served', async () => {
    const good = await leaf('a.hx.test');
    const other = await leaf('c.hx.test');
    const served = await servedSerial('a.hx.test');
    // The key of another certificate: HAProxy refuses the pair.
    const bad = await writeItem('a.hx.test', { ...good, key: other.key });
    const err: Error = await target.deliver(bad, ctx, signal).then(() => new Error('delivered'), (e: Error) => e);
    expect(err).toMatchObject({ code: 'TARGET_HAPROXY', retryable: false });
    expect(err.message).not.toMatch(/PRIVATE KEY|MI[A-Za-z0-9+/]{20}/);
    console.log(`invalid PEM: ${err.message}`);
    await noTransaction();
    expect(await servedSerial('a.hx.test')).toBe(served);
    const item = await writeItem('a.hx.test', good);
    const t0 = Date.now();
    await target.deliver(item, ctx, signal);
    expect(await servedAfter(t0, 'a.hx.test', good.serial)).toBeLessThan(1000);
  });

  it('(d) a socket that is down fails retryable, and the next delivery once it is back succeeds', async () => {
    const port = await freePort();
    const viaProxy = createHaproxyTarget({ socket: `127.0.0.1:${port}`, certFolder: folder, timeoutMs: 2000 });
    const c = await leaf('d.hx.test');
    const item = await writeItem('d.hx.test', c);
    await expect(viaProxy.deliver(item, ctx, signal)).rejects.toMatchObject({ code: 'TARGET_HAPROXY', retryable: true });
    await noTransaction();
    const proxy = await forward(port, haproxy.admin!.tcp);
    try {
      const t0 = Date.now();
      await viaProxy.deliver(item, ctx, signal);
      expect(await servedAfter(t0, 'd.hx.test', c.serial)).toBeLessThan(1000);
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
    await noTransaction();
  });

  it('the daemon with --haproxy-socket: a new service is served within 1 s of its file appearing', async () => {
    const { zone } = await folderAndZone();
    const w = daemon([folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...dnsArgs(zone),
      '--haproxy-socket', haproxy.admin!.socket]);
    const service = `web-${uniq()}`;
    await registerService(env, service, [`dns=${zone}`, 'ssl=offloading']);
    cleanups.push(() => deregisterService(env, service));
    const file = join(folder, `${service}.${zone}.pem`);
    const pem = await eventually(file, () => fileOnce(file), 90_000);
    const leafPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)![0];
    const serial = new X509Certificate(leafPem).serialNumber.replace(/^0+/, '').toUpperCase();
    // The file's time is when whisper-ts wrote it (temporary file, then rename).
    expect(await servedAfter((await stat(file)).mtimeMs, `${service}.${zone}`, serial)).toBeLessThan(1000);
    await eventually('the delivery log line', () => w.logs.find((l) => /HAProxy runtime API/.test(String(l.msg))), 5000);
    await noTransaction();
  });

  it('(e) HAProxy was never reloaded nor restarted', async () => {
    const now = await haproxy.info();
    expect(now.pid).toBe(startInfo.pid);
    expect(now.startTimeSec).toBe(startInfo.startTimeSec);
    expect(now.uptimeSec).toBeGreaterThanOrEqual(startInfo.uptimeSec);
    expect(haproxy.process.logTail(100_000).match(/Loading success/g) ?? []).toHaveLength(1);
  });
});

/** A TCP forwarder from 127.0.0.1:`port` to `to` (`host:port`): the socket "comes back". */
async function forward(port: number, to: string): Promise<Server> {
  const [host, p] = to.split(':') as [string, string];
  const server = createServer((inbound) => {
    const out = netConnect(Number(p), host);
    inbound.pipe(out).pipe(inbound);
    out.on('error', () => inbound.destroy());
    inbound.on('error', () => out.destroy());
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}
