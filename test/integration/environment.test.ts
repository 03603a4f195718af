import { describe, it, expect, inject } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { X509Certificate } from 'node:crypto';
import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { httpsGet } from '../support/https-get.js';
import { pebbleRoot } from '../support/pebble.js';
import { startHaproxy, fetchServedCert } from '../support/haproxy.js';
import { makeServerCert } from '../support/tls.js';
import '../support/env-types.js';

const run = promisify(execFile);
const env = inject('env');

function resolverFor(addr: string): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([addr]);
  return r;
}

async function txt(addr: string, name: string): Promise<string[]> {
  try {
    return (await resolverFor(addr).resolveTxt(name)).map((chunks) => chunks.join(''));
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOTFOUND' || (err as { code?: string }).code === 'ENODATA') return [];
    throw err;
  }
}

describe('the test environment', () => {
  it('Consul: a blocking query returns when a service is registered', async () => {
    const base = `http://${env.consul.httpAddr}/v1`;
    const first = await fetch(`${base}/catalog/services`);
    const index = Number(first.headers.get('x-consul-index'));
    expect(index).toBeGreaterThan(0);
    const name = `env-probe-${Date.now()}`;
    // Started before the change, with a wait far longer than the test's timeout: only the change can end it.
    const blocking = fetch(`${base}/catalog/services?index=${index}&wait=10m`);
    await new Promise((r) => setTimeout(r, 200));
    const reg = await fetch(`${base}/agent/service/register`, {
      method: 'PUT',
      body: JSON.stringify({ Name: name, Tags: ['dns=zone.test', 'ssl=offloading'], Port: 8080 }),
    });
    expect(reg.status).toBe(200);
    const res = await blocking;
    const services = (await res.json()) as Record<string, string[]>;
    expect(Number(res.headers.get('x-consul-index'))).toBeGreaterThan(index);
    expect(services[name]?.slice().sort()).toEqual(['dns=zone.test', 'ssl=offloading']);
    await fetch(`${base}/agent/service/deregister/${name}`, { method: 'PUT' });
  });

  it('Pebble: the directory answers over TLS trusted by the generated CA, and serves its roots', async () => {
    const dir = await httpsGet(env.pebble.directoryUrl, env.pebble.tlsCaFile);
    expect(dir.status).toBe(200);
    const body = JSON.parse(dir.body) as Record<string, unknown>;
    expect(body.newOrder).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect(body.renewalInfo).toMatch(/^https:/);
    // Untrusted without the CA file.
    await expect(fetch(env.pebble.directoryUrl)).rejects.toThrow();
    const root = new X509Certificate(await pebbleRoot(env.pebble));
    expect(root.ca).toBe(true);
    expect(root.subject).toMatch(/Pebble Root CA/);
  });

  it('Route53 emulator: an upserted TXT is answered by the DNS front and gone after DELETE', async () => {
    const r53 = new Route53Client({
      endpoint: env.route53.endpoint,
      region: env.route53.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const name = `_acme-challenge.probe-${Date.now()}.${env.route53.zone}`;
    const set = {
      Name: name,
      Type: 'TXT' as const,
      TTL: 60,
      ResourceRecords: [{ Value: '"first-value"' }, { Value: '"second-value"' }],
    };
    const change = (Action: 'UPSERT' | 'DELETE') =>
      r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: env.route53.zoneId,
          ChangeBatch: { Changes: [{ Action, ResourceRecordSet: set }] },
        }),
      );
    await change('UPSERT');
    expect((await txt(env.dnsFront.addr, name)).sort()).toEqual(['first-value', 'second-value']);
    const soa = await resolverFor(env.dnsFront.addr).resolveSoa(env.route53.zone);
    expect(soa.nsname).toBeTruthy();
    await change('DELETE');
    expect(await txt(env.dnsFront.addr, name)).toEqual([]);
    r53.destroy();
  });

  it('DNS front: names outside its zones go to challtestsrv', async () => {
    const host = `_acme-challenge.probe-${Date.now()}.elsewhere.test.`;
    const res = await fetch(`${env.challtestsrv.managementUrl}/set-txt`, {
      method: 'POST',
      body: JSON.stringify({ host, value: 'from-challtestsrv' }),
    });
    expect(res.status).toBe(200);
    expect(await txt(env.dnsFront.addr, host.slice(0, -1))).toEqual(['from-challtestsrv']);
    await fetch(`${env.challtestsrv.managementUrl}/clear-txt`, { method: 'POST', body: JSON.stringify({ host }) });
  });

  it('BIND: a TSIG-signed RFC 2136 update is visible in a query, directly and through the DNS front', async () => {
    const [host, port] = env.bind.addr.split(':');
    const name = `_acme-challenge.probe-${Date.now()}.${env.bind.zone}`;
    const key = `${env.bind.tsig.algorithm}:${env.bind.tsig.name}:${env.bind.tsig.secret}`;
    const nsupdate = (cmd: string) =>
      new Promise<void>((resolve, reject) => {
        const child = execFile('nsupdate', ['-y', key], (err) => (err ? reject(err) : resolve()));
        child.stdin?.end(`server ${host} ${port}\nzone ${env.bind.zone}\n${cmd}\nsend\n`);
      });
    await nsupdate(`update add ${name} 60 TXT "rfc2136-value"`);
    expect(await txt(env.bind.addr, name)).toEqual(['rfc2136-value']);
    expect(await txt(env.dnsFront.addr, name)).toEqual(['rfc2136-value']);
    await nsupdate(`update delete ${name} TXT`);
    expect(await txt(env.bind.addr, name)).toEqual([]);
    // Unsigned updates are refused.
    const { stdout } = await run('dig', ['+short', '-p', port ?? '53', `@${host}`, env.bind.zone, 'SOA']);
    expect(stdout).toMatch(/ns1\./);
    await expect(
      new Promise<void>((resolve, reject) => {
        const child = execFile('nsupdate', [], (err) => (err ? reject(err) : resolve()));
        child.stdin?.end(`server ${host} ${port}\nzone ${env.bind.zone}\nupdate add x.${env.bind.zone} 60 TXT "no"\nsend\n`);
      }),
    ).rejects.toThrow(/REFUSED/);
  });

  it('HAProxy: serves a certificate from a folder to a TLS client with SNI', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whisper-haproxy-'));
    try {
      const tls = await makeServerCert(dir, 'site');
      const certs = join(dir, 'certs');
      await run('mkdir', [certs]);
      const pem = (await readFile(tls.keyFile, 'utf8')) + (await readFile(tls.certFile, 'utf8'));
      await writeFile(join(certs, 'localhost.pem'), pem, { mode: 0o600 });
      const haproxy = await startHaproxy(dir, certs);
      try {
        const served = await fetchServedCert(haproxy.port, 'localhost', await readFile(tls.caFile, 'utf8'));
        expect(served.subjectaltname).toContain('DNS:localhost');
        expect(served.serialNumber).toBe(new X509Certificate(await readFile(tls.certFile)).serialNumber);
      } finally {
        await haproxy.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('extra Consul agents', () => {
  it('a client agent started by a test joins the shared dev server', async () => {
    const { startConsul } = await import('../support/consul.js');
    const agent = await startConsul({ dir: env.runDir, join: env.consul.serfLanAddr });
    try {
      const nodes = await (async () => {
        for (let i = 0; i < 100; i++) {
          const list = (await (await fetch(`http://${env.consul.httpAddr}/v1/catalog/nodes`)).json()) as Array<{ Node: string }>;
          if (list.some((n) => n.Node === agent.node)) return list;
          await new Promise((r) => setTimeout(r, 100));
        }
        return [];
      })();
      expect(nodes.map((n) => n.Node)).toContain(agent.node);
    } finally {
      await agent.stop();
    }
  });
});
