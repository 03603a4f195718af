import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { X509Certificate, randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DnsProvider, TxtRecord } from '../../src/dns/provider.js';
import { WhisperError } from '../../src/errors.js';
import { createAcmeIssuer } from '../../src/acme/issuer.js';
import { createFolderStore } from '../../src/store/folder.js';
import type { WantedCert } from '../../src/plan/types.js';
import { pemCertificates } from '../../src/store/pem.js';
import { pebbleRoot } from '../support/pebble.js';
import '../support/env-types.js';

const env = inject('env');
// Not a Route53 or BIND test zone: the DNS front forwards it to challtestsrv.
const ZONE = 'acme.whisper.test';

async function manage(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${env.challtestsrv.managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`challtestsrv ${path} answered ${res.status}`);
}

/** Publishes TXT records through challtestsrv's management API; records every call. */
function challtestsrvDns(calls: string[]): DnsProvider {
  return {
    name: 'challtestsrv',
    async present(records: readonly TxtRecord[]) {
      calls.push(`present:${records.length}`);
      for (const r of records) await manage('/set-txt', { host: `${r.fqdn}.`, value: r.value });
    },
    async cleanUp(records: readonly TxtRecord[]) {
      calls.push(`cleanUp:${records.length}`);
      for (const fqdn of new Set(records.map((r) => r.fqdn))) await manage('/clear-txt', { host: `${fqdn}.` });
    },
  } satisfies DnsProvider;
}

/** One query to the DNS front Pebble validates against: every value must already be there. */
async function propagate(records: readonly TxtRecord[]): Promise<void> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([env.dnsFront.addr]);
  for (const r of records) {
    const values = (await resolver.resolveTxt(r.fqdn)).map((chunks) => chunks.join(''));
    if (!values.includes(r.value)) throw new Error(`TXT of ${r.fqdn} not visible on the DNS front`);
  }
}

function wanted(names: string[], id = names[0] ?? ''): WantedCert {
  return { id, kind: names.length > 1 ? 'multi' : 'single', zone: ZONE, names: [...names].sort(), services: ['web'] };
}

describe('ACME issuer against Pebble', () => {
  let dir: string;
  let caBundle: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'whisper-acme-'));
    caBundle = await readFile(env.pebble.tlsCaFile, 'utf8');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to register without an account key or an e-mail', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'whisper-acme-empty-'));
    try {
      const issuer = createAcmeIssuer({
        directoryUrl: env.pebble.directoryUrl,
        store: createFolderStore(empty),
        dns: challtestsrvDns([]),
        propagate,
        caBundle,
      });
      const err = await issuer.ensureAccount().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WhisperError);
      expect((err as WhisperError).code).toBe('ACME_ACCOUNT');
      expect((err as WhisperError).message).toContain('ACME_REGISTER_EMAIL');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('registers, issues a certificate whose chain verifies against Pebble root, stores and reads it back', async () => {
    const store = createFolderStore(dir);
    const calls: string[] = [];
    const issuer = createAcmeIssuer({
      directoryUrl: env.pebble.directoryUrl,
      store,
      email: 'ops@example.com',
      dns: challtestsrvDns(calls),
      propagate,
      caBundle,
      pollIntervalMs: 100,
    });
    await issuer.ensureAccount();
    const account = await store.readAccount();
    expect(account?.urls[env.pebble.directoryUrl]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect((await stat(join(dir, '.acme'))).mode & 0o777).toBe(0o600);

    const label = randomBytes(4).toString('hex');
    const names = [`www-${label}.${ZONE}`, `api-${label}.${ZONE}`];
    const cert = wanted(names, `multi-hosts.${label}.${ZONE}`);
    const bundle = await issuer.issue(cert);
    expect(calls).toEqual(['present:2', 'cleanUp:2']);

    const leaf = new X509Certificate(bundle.cert);
    expect(leaf.subjectAltName?.split(', ').sort()).toEqual(names.map((n) => `DNS:${n}`).sort());
    // Verify leaf → intermediates → Pebble's root (fetched now: it changes on every Pebble start).
    const chain = pemCertificates(bundle.chain).map((pem) => new X509Certificate(pem));
    const root = new X509Certificate(await pebbleRoot(env.pebble));
    const path = [leaf, ...chain, root];
    for (let i = 0; i + 1 < path.length; i += 1) {
      const [child, parent] = [path[i], path[i + 1]];
      expect(child?.checkIssued(parent as X509Certificate)).toBe(true);
      expect(child?.verify((parent as X509Certificate).publicKey)).toBe(true);
    }

    const stored = await store.write(cert.id, bundle);
    const back = await store.read(cert.id);
    expect(back).toEqual(stored);
    expect(back?.names).toEqual([...names].sort());
    expect(back?.serial).toBe(leaf.serialNumber.toUpperCase());
    expect(back?.notAfter.getTime()).toBeGreaterThan(Date.now());

    // The account is reused: a second issuer on the same folder registers nothing new.
    const again = createAcmeIssuer({ directoryUrl: env.pebble.directoryUrl, store, dns: challtestsrvDns([]), propagate, caBundle });
    await again.ensureAccount();
    expect((await store.readAccount())?.urls).toEqual(account?.urls);
    const dirObject = await again.directory?.();
    expect(typeof dirObject?.newOrder).toBe('string');
  });

  it('maps a refused identifier to a non-retryable ACME_ORDER and still cleans nothing it did not publish', async () => {
    const calls: string[] = [];
    const issuer = createAcmeIssuer({
      directoryUrl: env.pebble.directoryUrl,
      store: createFolderStore(dir),
      dns: challtestsrvDns(calls),
      propagate,
      caBundle,
    });
    const err = await issuer.issue(wanted(['blocked-domain.example'])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhisperError);
    expect((err as WhisperError).code).toBe('ACME_ORDER');
    expect((err as WhisperError).retryable).toBe(false);
    expect((err as WhisperError).message).toContain('certificate blocked-domain.example');
    expect((err as WhisperError).message).toContain('rejectedIdentifier');
    expect(calls).toEqual([]);
  });

  it('on abort after publishing: ABORTED, and the TXT record is gone from DNS', async () => {
    const calls: string[] = [];
    const controller = new AbortController();
    const name = `abort-${randomBytes(4).toString('hex')}.${ZONE}`;
    const issuer = createAcmeIssuer({
      directoryUrl: env.pebble.directoryUrl,
      store: createFolderStore(dir),
      dns: challtestsrvDns(calls),
      propagate: async (records) => {
        await propagate(records);
        controller.abort();
      },
      caBundle,
    });
    const err = await issuer.issue(wanted([name]), { signal: controller.signal }).catch((e: unknown) => e);
    expect((err as WhisperError).code).toBe('ABORTED');
    expect(calls).toEqual(['present:1', 'cleanUp:1']);
    const resolver = new Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([env.dnsFront.addr]);
    const left = await resolver.resolveTxt(`_acme-challenge.${name}`).catch(() => []);
    expect(left).toEqual([]);
  });
});
