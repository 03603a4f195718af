import { describe, it, expect, inject, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, request } from 'node:https';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createZone, sans, splitPem, verifyAgainstPebble } from '../support/certs.js';
import { startPebble } from '../support/pebble.js';
import forge from 'node-forge';
import { makeServerCert } from '../support/tls.js';
import { binaries } from '../support/paths.js';
import {
  BIN, envArgs, eventually, fileOnce, registerService, startWhisper, uniq, type WhisperProcess, cleanupAfterAll } from '../support/whisper.js';
import '../support/env-types.js';

const env = inject('env');
const run = promisify(execFile);
const { running, dirs } = cleanupAfterAll();

/** An HTTPS proxy in front of Pebble that records the identifiers of every new order (decoded from the JWS). */
interface OrderRecorder {
  readonly url: string;
  readonly caFile: string;
  readonly ordered: string[][];
  close(): Promise<void>;
}

async function startOrderRecorder(dir: string, ca: { directoryUrl: string; tlsCaFile: string } = env.pebble): Promise<OrderRecorder> {
  const tls = await makeServerCert(dir, `recorder-${uniq()}`);
  const upstream = new URL(ca.directoryUrl);
  const upstreamCa = await readFile(ca.tlsCaFile);
  const ordered: string[][] = [];
  const server = createServer({ cert: await readFile(tls.certFile), key: await readFile(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && (req.url ?? '').includes('order-plz')) {
        const jws = JSON.parse(body.toString('utf8')) as { payload: string };
        const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as { identifiers: Array<{ value: string }> };
        ordered.push(payload.identifiers.map((i) => i.value).sort());
      }
      const up = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, ca: upstreamCa },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `https://127.0.0.1:${port}`, caFile: tls.caFile, ordered, close: () => new Promise((r) => server.close(() => r())) };
}

/** A self-signed certificate and its key that expired in 2020. */
function expiredPem(name: string): string {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date('2020-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2020-02-01T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer([{ name: 'commonName', value: name }]);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return forge.pki.privateKeyToPem(keys.privateKey) + forge.pki.certificateToPem(cert);
}

let recorder: OrderRecorder;
beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), 'whisper-hostile-proxy-'));
  dirs.push(base);
  recorder = await startOrderRecorder(base);
  return () => recorder.close();
});

async function setup(ca: { url: string; caFile: string } = recorder) {
  const zs = [`h${uniq()}.whisper.test`];
  for (const zone of zs) await createZone(env, zone);
  const base = await mkdtemp(join(tmpdir(), 'whisper-hostile-'));
  dirs.push(base);
  const folder = join(base, 'certs');
  const args = [folder, ...envArgs(env).map((a) => (a === env.pebble.directoryUrl ? `${ca.url}/dir` : a === env.pebble.tlsCaFile ? ca.caFile : a)),
    '--dns-provider', 'route53', '--route53-endpoint', env.route53.endpoint,
    ...zs.flatMap((z) => ['--allow-domain', z]), '--notify', `whisper-tests/${uniq()}`];
  return { zones: zs, zone: zs[0]!, base, folder, args };
}

function start(args: string[]): WhisperProcess {
  const w = startWhisper(args);
  running.push(w);
  return w;
}

const warnFor = (w: WhisperProcess, service: string) => w.logs.find((l) => l.level === 40 && String(l.service).split(', ').includes(service));

describe('hostile input through the real daemon', () => {
  it('rejects every hostile tag by service, normalises the rest, and orders nothing outside the allow-list', async () => {
    const t = await setup();
    const z = t.zone;
    const w = start(t.args);
    const long = Array.from({ length: 5 }, () => 'l'.repeat(60)).join('.');
    const hostile: Array<[string, string[]]> = [
      ['dotdot', [`dns=${z}`, 'vhost=../../../etc/cron.d/x', 'https=443']],
      ['slash', [`dns=${z}`, 'vhost=a/b', 'https=443']],
      ['backslash', [`dns=${z}`, 'vhost=a\\b', 'https=443']],
      ['zone-slash', [`dns=${z}/../..`, 'ssl=offloading']],
      ['ctrl', [`dns=${z}`, 'vhost=a\u001b[31mb', 'https=443']],
      ['label64', [`dns=${z}`, `vhost=${'a'.repeat(64)}`, 'https=443']],
      ['name254', [`dns=${z}`, `vhost=${long}`, 'https=443']],
      ['star', [`dns=${z}`, 'vhost=a*b', 'https=443']],
      ['starmid', [`dns=${z}`, 'vhost=www.*', 'https=443']],
      ['empty-vhost', [`dns=${z}`, 'vhost=', 'https=443']],
      ['empty-dns', ['dns=', 'ssl=offloading']],
      ['outside', ['dns=outside-allow-list.test', 'ssl=offloading']],
      ['outside-sub', [`dns=${z}.evil.test`, 'ssl=offloading']],
    ];
    const names = new Map<string, string>();
    for (const [label, tags] of hostile) {
      const name = `evil-${label}-${uniq()}`;
      names.set(label, name);
      await registerService(env, name, tags);
    }
    // Consul 1.16 keeps a NUL in a tag as it is: the daemon must reject it.
    const nulName = `evil-nul-${uniq()}`;
    await registerService(env, nulName, [`dns=${z}`, 'vhost=a\u0000b', 'https=443']);
    const upper = `svc-upper-${uniq()}`;
    await registerService(env, upper, [`dns=${z}`, 'vhost=WWW', 'vhost=bücher', 'https=443']);
    const dotted = `dotted-${uniq()}`;
    await registerService(env, dotted, [`dns=${z.toUpperCase()}.`, 'ssl=offloading']);

    const multi = join(t.folder, `multi-hosts.${z}.pem`);
    const pem = await eventually('the multi-host certificate', () => fileOnce(multi));
    expect(sans(await verifyAgainstPebble(env, pem))).toEqual([`www.${z}`, `xn--bcher-kva.${z}`]);
    const single = await eventually('the trailing-dot certificate', () => fileOnce(join(t.folder, `${dotted}.${z}.pem`)));
    expect(sans(await verifyAgainstPebble(env, single))).toEqual([`${dotted}.${z}`]);

    for (const [label, name] of names) {
      const line = await eventually(`a warning for ${label}`, () => warnFor(w, name));
      expect(String(line.msg)).toContain(name);
      expect(['HOSTNAME_INVALID', 'DOMAIN_NOT_ALLOWED']).toContain(line.code);
    }
    expect(warnFor(w, names.get('outside')!)?.code).toBe('DOMAIN_NOT_ALLOWED');
    expect(warnFor(w, names.get('outside-sub')!)?.code).toBe('DOMAIN_NOT_ALLOWED');
    expect((await eventually('a warning for NUL', () => warnFor(w, nulName))).code).toBe('HOSTNAME_INVALID');
    // Control characters are escaped in the log line, never written raw.
    expect(w.output()).not.toContain('\u001b');

    // What the CA saw: only names inside the zone.
    const mine = recorder.ordered.filter((ids) => ids.some((n) => n.endsWith(z) || n.includes(z)));
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (const ids of mine) for (const n of ids) expect(n.endsWith(`.${z}`)).toBe(true);
    expect(recorder.ordered.flat().filter((n) => n.includes('outside-allow-list') || n.includes('evil.test'))).toEqual([]);

    expect((await readdir(t.base)).sort()).toEqual(['certs']);
    expect((await readdir(t.folder)).filter((f) => !f.startsWith('.')).sort()).toEqual([`${dotted}.${z}.pem`, `multi-hosts.${z}.pem`].sort());
    expect(w.child.exitCode).toBeNull();
    expect(await w.stop()).toBe(0);
  });

  it('splits 150 vhosts of one zone into multi-hosts (100 names) and multi-hosts-2 (50) with a log line', async () => {
    // Pebble validating 150 dns-01 challenges at once overwhelms the shared DNS front: an own Pebble
    // that skips validation (the daemon still publishes and checks every TXT record).
    const dir = await mkdtemp(join(tmpdir(), 'whisper-hostile-pebble-'));
    dirs.push(dir);
    const pebble = await startPebble({ dir, dnsServer: env.dnsFront.addr, env: { PEBBLE_VA_ALWAYS_VALID: '1' }, name: 'pebble-150' });
    const own = await startOrderRecorder(dir, pebble);
    try {
      const t = await setup(own);
      await check150(t, own.ordered);
    } finally {
      await own.close();
      await pebble.stop();
    }
  }, 90_000);

  async function check150(t: Awaited<ReturnType<typeof setup>>, recorded: string[][]): Promise<void> {
    const z = t.zone;
    const w = start(t.args);
    const service = `many-${uniq()}`;
    const vhosts = Array.from({ length: 150 }, (_, i) => `v${String(i).padStart(3, '0')}`);
    await registerService(env, service, [`dns=${z}`, ...vhosts.map((v) => `vhost=${v}`), 'https=443']);
    const first = await eventually('multi-hosts', () => fileOnce(join(t.folder, `multi-hosts.${z}.pem`)));
    const second = await eventually('multi-hosts-2', () => fileOnce(join(t.folder, `multi-hosts-2.${z}.pem`)));
    const all = vhosts.map((v) => `${v}.${z}`).sort();
    expect(sans(splitPem(first).certs[0]!)).toEqual(all.slice(0, 100));
    expect(sans(splitPem(second).certs[0]!)).toEqual(all.slice(100));
    // What the CA saw: orders of 100 and 50 names only (a failed one may be retried).
    expect(new Set(recorded.map((ids) => ids.length))).toEqual(new Set([100, 50]));
    const split = w.logs.find((l) => l.code === 'TOO_MANY_NAMES');
    expect(String(split?.msg)).toContain(`multi-hosts.${z}, multi-hosts-2.${z}`);
    expect(split?.service).toBe(service);
    expect(await w.stop()).toBe(0);
  }

  it('reports foreign, expired and corrupt files in the folder, keeps them, and replaces a corrupt wanted one', async () => {
    const t = await setup();
    const z = t.zone;
    await mkdir(t.folder, { mode: 0o700 });
    const o = binaries().openssl;
    const key = join(t.base, 'k.pem');
    const crt = join(t.base, 'c.pem');
    await run(o, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt,
      '-subj', '/CN=other.example.org', '-addext', 'subjectAltName=DNS:other.example.org', '-days', '1']);
    const other = (await readFile(key, 'utf8')) + (await readFile(crt, 'utf8'));
    const expired = expiredPem(`old.${z}`);
    await rm(key);
    await rm(crt);
    const wanted = `corrupt-${uniq()}`;
    const files: Record<string, string> = {
      'README.txt': 'not a certificate\n',
      'garbage.pem': 'this is not PEM at all\n',
      'half.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n',
      'Not A Name!.pem': 'whatever\n',
      'other.example.org.pem': other,
      [`imposter.${z}.pem`]: other,
      [`old.${z}.pem`]: expired,
      [`${wanted}.${z}.pem`]: '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n',
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(t.folder, name), text, { mode: 0o600 });

    const w = start(t.args);
    await registerService(env, wanted, [`dns=${z}`, 'ssl=offloading']);
    const target = join(t.folder, `${wanted}.${z}.pem`);
    const fresh = await eventually('the corrupt file replaced', async () => {
      const text = await fileOnce(target);
      return text?.includes('BEGIN CERTIFICATE') ? text : undefined;
    });
    expect(sans(await verifyAgainstPebble(env, fresh))).toEqual([`${wanted}.${z}`]);
    for (const name of ['garbage.pem', 'half.pem', 'Not A Name!.pem', `imposter.${z}.pem`, `old.${z}.pem`, `${wanted}.${z}.pem`]) {
      await eventually(`a log line naming ${name}`, () => w.logs.find((l) => Number(l.level) >= 40 && (String(l.file).endsWith(name) || String(l.msg).includes(name))));
    }
    for (const [name, text] of Object.entries(files)) {
      if (name !== `${wanted}.${z}.pem`) expect(await readFile(join(t.folder, name), 'utf8')).toBe(text);
    }
    expect(w.child.exitCode).toBeNull();

    const status = await run(process.execPath, [BIN, 'status', t.folder]);
    expect(status.stdout).toContain(`${wanted}.${z}.pem`);
    expect(status.stdout).toContain('other.example.org.pem');
    expect(status.stderr).toContain('garbage.pem');
    expect(status.stderr).toMatch(/old\.\S+\.pem: the certificate expired/);
    expect(status.stderr).toMatch(/imposter\.\S+\.pem: the certificate is for \[other\.example\.org\]/);
    const json = JSON.parse((await run(process.execPath, [BIN, 'status', t.folder, '--json'])).stdout) as unknown[];
    expect(json.length).toBeGreaterThanOrEqual(3);
    await chmod(t.folder, 0o700);
    expect(await w.stop()).toBe(0);
  });
});
