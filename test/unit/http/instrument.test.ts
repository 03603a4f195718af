import { describe, it, expect } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WhisperError } from '../../../src/errors.js';
import type { Issuer } from '../../../src/acme/types.js';
import type { WantedCert } from '../../../src/plan/types.js';
import { createMetrics } from '../../../src/http/metrics.js';
import { instrumentIssuer } from '../../../src/http/instrument.js';
import { serveWhile } from '../../../src/http/serve.js';
import { silentLogger } from '../../../src/log.js';
import type { ConsulApi } from '../../../src/consul/api.js';
import type { CertStore } from '../../../src/store/types.js';

const cert = { id: 'www.example.com', names: ['www.example.com'] } as unknown as WantedCert;
const bundle = { key: 'k', cert: 'c', chain: '' };

function fakeIssuer(outcomes: Array<Error | undefined>): Issuer & { accounts: number } {
  const issuer = {
    accounts: 0,
    ensureAccount: () => {
      issuer.accounts++;
      return Promise.resolve();
    },
    issue: () => {
      const next = outcomes.shift();
      return next ? Promise.reject(next) : Promise.resolve(bundle);
    },
  };
  return issuer;
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('instrumentIssuer', () => {
  it('counts attempts and failures and times orders with the injected clock', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let t = 0;
    const inner = fakeIssuer([undefined, new WhisperError('ACME_ORDER', 'order for www.example.com failed'), new WhisperError('ABORTED', 'stopped')]);
    const issuer = instrumentIssuer(
      { ...inner, issue: (c, o) => ((t += 4000), inner.issue(c, o)) },
      metrics,
      () => t,
    );
    expect(await issuer.issue(cert)).toEqual(bundle);
    await expect(issuer.issue(cert)).rejects.toThrow('order for www.example.com failed');
    await expect(issuer.issue(cert)).rejects.toThrow('stopped');
    await issuer.ensureAccount();
    expect(inner.accounts).toBe(1);
    expect(issuer.directory).toBeUndefined();
    const text = await metrics.registry.metrics();
    expect(value(text, 'whisper_issuance_attempts_total')).toBe(3);
    expect(value(text, 'whisper_issuance_failures_total{code="ACME_ORDER"}')).toBe(1);
    expect(text).not.toContain('code="ABORTED"');
    expect(value(text, 'whisper_order_duration_seconds_sum{result="success"}')).toBe(4);
    expect(value(text, 'whisper_order_duration_seconds_count{result="failure"}')).toBe(1);
  });

  it('passes the directory through', async () => {
    const issuer = instrumentIssuer({ ...fakeIssuer([]), directory: () => Promise.resolve({ renewalInfo: 'u' }) }, createMetrics({ defaultMetrics: false }));
    expect(await issuer.directory?.()).toEqual({ renewalInfo: 'u' });
  });
});

describe('serveWhile', () => {
  it('serves while the daemon runs, attaches Consul and the folder, and closes afterwards', async () => {
    const consul = { leader: () => Promise.resolve('10.0.0.1:8300') } as unknown as ConsulApi;
    const store = { list: () => Promise.resolve([{ id: 'a.example', notAfter: new Date(5_000_000) }]) } as unknown as CertStore;
    const folder = await mkdtemp(join(tmpdir(), 'whisper-serve-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    try {
      await serveWhile({ host: '127.0.0.1', port }, silentLogger(), { consul, store, folder }, async (parts) => {
        parts.metrics.attach({ accountReady: () => true });
        const text = await parts.metrics.registry.metrics();
        expect(value(text, 'whisper_certificate_expiry_timestamp_seconds{cert="a.example"}')).toBe(5000);
        expect((await fetch(`${url}/readyz`)).status).toBe(200);
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        await rm(folder, { recursive: true });
        const gone = await fetch(`${url}/healthz`);
        expect(gone.status).toBe(503);
        expect(await gone.json()).toEqual({ status: 'failing', reason: `certificate folder ${folder} is not writable: ENOENT` });
      });
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  return port;
}
