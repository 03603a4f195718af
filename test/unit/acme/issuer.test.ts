import { describe, it, expect } from 'vitest';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { createAcmeIssuer, type AcmeIssuerOptions } from '../../../src/acme/issuer.js';
import type { DnsProvider, TxtRecord } from '../../../src/dns/provider.js';
import { WhisperError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import type { WantedCert } from '../../../src/plan/types.js';
import { makeKey } from '../store/x509-fixture.js';
import { fakeCa, memoryStore, type FakeCaOptions } from './fake-ca.js';
import { failure } from '../failure.js';

const DIR = 'https://ca.test/directory';

function wanted(names: string[], id = names[0] ?? 'x'): WantedCert {
  return { id, kind: 'single', zone: 'example.com', names: [...names].sort(), services: ['web'] };
}

function fakeDns(events: string[], fail?: { present?: Error; cleanUp?: Error }): DnsProvider & { presented: TxtRecord[][]; cleaned: TxtRecord[][] } {
  const presented: TxtRecord[][] = [];
  const cleaned: TxtRecord[][] = [];
  return {
    name: 'fake',
    presented,
    cleaned,
    async present(records) {
      events.push('present');
      presented.push([...records]);
      if (fail?.present) throw fail.present;
    },
    async cleanUp(records) {
      events.push('cleanUp');
      cleaned.push([...records]);
      if (fail?.cleanUp) throw fail.cleanUp;
    },
  };
}

function setup(ca: FakeCaOptions = {}, extra: Partial<AcmeIssuerOptions> & { dnsFail?: { present?: Error; cleanUp?: Error } } = {}) {
  const fake = fakeCa(ca);
  const mem = memoryStore({ key: makeKey().pem, urls: { [DIR]: 'https://ca.test/acct/1' } });
  const events: string[] = [];
  const dns = fakeDns(events, extra.dnsFail);
  const sleeps: number[] = [];
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const propagated: TxtRecord[][] = [];
  let clock = new Date('2026-11-23T10:00:00Z').getTime();
  const issuer = createAcmeIssuer({
    directoryUrl: DIR,
    store: mem.store,
    dns,
    propagate: async (records) => {
      events.push('propagate');
      propagated.push([...records]);
    },
    clients: fake.factory,
    log: createLogger({ debug: true, destination }),
    now: () => new Date(clock),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    pollIntervalMs: 100,
    pollMaxIntervalMs: 1000,
    pollTimeoutMs: 5000,
    ...extra,
  });
  return { issuer, fake, mem, dns, events, sleeps, lines, propagated };
}


describe('ACME issuer order flow', () => {
  it('publishes every record at once, propagates, answers, finalizes with a fresh key, and cleans up', async () => {
    const t = setup();
    const cert = wanted(['www.example.com', 'api.example.com'], 'multi-hosts.example.com');
    const bundle = await t.issuer.issue(cert);

    const records = [
      { fqdn: '_acme-challenge.api.example.com', value: 'txt-token-api.example.com' },
      { fqdn: '_acme-challenge.www.example.com', value: 'txt-token-www.example.com' },
    ];
    expect(t.dns.presented).toEqual([records]);
    expect(t.propagated).toEqual([records]);
    expect(t.dns.cleaned).toEqual([records]);
    expect(t.events).toEqual(['present', 'propagate', 'cleanUp']);
    const flow = t.fake.calls.filter((c) => c !== 'getChallengeKeyAuthorization');
    expect(flow).toEqual(['createOrder', 'getAuthorizations', 'completeChallenge', 'completeChallenge', 'getAuthorizations', 'getOrder', 'finalizeOrder', 'getOrder', 'getCertificate']);
    expect(t.fake.orders).toEqual([{ identifiers: [{ type: 'dns', value: 'api.example.com' }, { type: 'dns', value: 'www.example.com' }] }]);

    const leaf = new X509Certificate(bundle.cert);
    expect(leaf.subjectAltName).toBe('DNS:api.example.com, DNS:www.example.com');
    expect(leaf.checkPrivateKey(createPrivateKey(bundle.key))).toBe(true);
    expect(createPrivateKey(bundle.key).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(bundle.chain).toBe(t.fake.caCert);
    expect(t.fake.deactivated).toEqual([]);
    // The account was already in the store: nothing registered.
    expect(t.fake.calls).not.toContain('createAccount');
    expect(t.fake.specs[0]).toMatchObject({ accountUrl: 'https://ca.test/acct/1', what: 'certificate multi-hosts.example.com' });
  });

  it('logs one debug line per step with the certificate id, never a TXT value or key', async () => {
    const t = setup();
    const bundle = await t.issuer.issue(wanted(['www.example.com']));
    const log = t.lines.map((l) => JSON.parse(l) as { certId?: string; step?: string; msg: string });
    const steps = log.filter((l) => l.step).map((l) => l.step);
    expect(steps).toContain('createOrder');
    expect(steps).toContain('finalizeOrder');
    expect(steps).toContain('dns.cleanUp');
    expect(log.filter((l) => l.step).every((l) => l.certId === 'www.example.com')).toBe(true);
    const all = t.lines.join('');
    expect(all).not.toContain('txt-token');
    expect(all).not.toContain(bundle.key.split('\n')[1] as string);
  });

  it('uses the wildcard base name and the challenge target', async () => {
    const t = setup({}, { challengeTarget: async (fqdn) => `${fqdn.replace('.example.com', '')}.validation.example.net` });
    await t.issuer.issue(wanted(['*.example.com', 'example.com']));
    expect(t.dns.presented[0]?.map((r) => r.fqdn)).toEqual(['_acme-challenge.validation.example.net', '_acme-challenge.validation.example.net']);
    expect(new Set(t.dns.presented[0]?.map((r) => r.value)).size).toBe(2);
  });

  it('skips DNS for authorizations that are already valid', async () => {
    const t = setup({ alreadyValid: ['www.example.com'] });
    await t.issuer.issue(wanted(['www.example.com']));
    expect(t.events).toEqual([]);
    expect(t.fake.calls).not.toContain('completeChallenge');
  });

  it('passes replaces and profile into the new order', async () => {
    const t = setup();
    await t.issuer.issue(wanted(['www.example.com']), { replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', profile: 'shortlived' });
    expect(t.fake.orders[0]).toMatchObject({ replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', profile: 'shortlived' });
  });

  it('marks a CA problem at new-order with the `replaces` it carried, and leaves a rate limit untouched', async () => {
    const REPLACES = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';
    // Pebble answers 500 serverInternal for a certID whose serial has its high bit set: the refusal is about `replaces`.
    const internal = new WhisperError('ACME_ORDER', 'the CA refused (HTTP 500) serverInternal', {
      retryable: true,
      cause: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'could not find an order for the given certificate' },
    });
    const t = setup({ failAt: { createOrder: { error: internal } } });
    const err = await failure(t.issuer.issue(wanted(['www.example.com']), { replaces: REPLACES }));
    expect(err).toMatchObject({ code: 'ACME_ORDER', retryable: true, refusedReplaces: REPLACES, message: internal.message });
    expect(err.cause).toBe(internal.cause);

    const limited = new WhisperError('ACME_RATE_LIMITED', 'rate limited', { retryable: true, cause: { type: 'urn:ietf:params:acme:error:rateLimited' } });
    const r = setup({ failAt: { createOrder: { error: limited } } });
    expect(await failure(r.issuer.issue(wanted(['www.example.com']), { replaces: REPLACES }))).toBe(limited);
    // Without `replaces` nothing is marked.
    const plain = setup({ failAt: { createOrder: { error: internal } } });
    expect((await failure(plain.issuer.issue(wanted(['www.example.com'])))).refusedReplaces).toBeUndefined();
  });

  it('polls with the injected sleep and a growing interval', async () => {
    const t = setup({ pendingPolls: 3 });
    await t.issuer.issue(wanted(['www.example.com']));
    expect(t.sleeps).toEqual([100, 150, 225]);
  });

  it('gives up with a retryable ACME_ORDER when an authorization stays pending, still cleaning up', async () => {
    const t = setup({ pendingPolls: 1000 });
    const err = await failure(t.issuer.issue(wanted(['www.example.com'])));
    expect([err.code, err.retryable]).toEqual(['ACME_ORDER', true]);
    expect(err.message).toContain('certificate www.example.com');
    expect(t.events).toEqual(['present', 'propagate', 'cleanUp']);
    expect(t.fake.deactivated).toEqual(['www.example.com']);
  });

  it('reports an invalid authorization with its problem, cleans up, and sends nothing to finalize', async () => {
    const t = setup({ invalid: { 'api.example.com': { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'Incorrect TXT record found' } } });
    const err = await failure(t.issuer.issue(wanted(['www.example.com', 'api.example.com'])));
    expect(err.code).toBe('ACME_ORDER');
    expect(err.message).toContain('api.example.com is invalid');
    expect(err.message).toContain('urn:ietf:params:acme:error:unauthorized: Incorrect TXT record found');
    expect(err.message).not.toContain('txt-token');
    expect(t.fake.calls).not.toContain('finalizeOrder');
    expect(t.events).toEqual(['present', 'propagate', 'cleanUp']);
  });

  it('refuses a certificate whose names differ from the order, returning nothing', async () => {
    const t = setup({ issuedNames: ['www.example.com', 'evil.example.com'] });
    const err = await failure(t.issuer.issue(wanted(['www.example.com'])));
    expect(err.code).toBe('ACME_BAD_RESPONSE');
    expect(err.message).toContain('evil.example.com');
    expect(t.events).toEqual(['present', 'propagate', 'cleanUp']);
  });

  it('cleans up every record when present itself fails', async () => {
    const t = setup({}, { dnsFail: { present: new WhisperError('DNS_PROVIDER', 'route53 said no', { retryable: true }) } });
    const err = await failure(t.issuer.issue(wanted(['www.example.com', 'api.example.com'])));
    expect(err.code).toBe('DNS_PROVIDER');
    expect(t.dns.cleaned[0]).toHaveLength(2);
    expect(t.fake.calls).not.toContain('completeChallenge');
    expect(t.fake.deactivated.sort()).toEqual(['api.example.com', 'www.example.com']);
  });

  it('wraps a plain error of the DNS provider as a retryable DNS_PROVIDER error', async () => {
    const t = setup({}, { dnsFail: { present: new Error('socket hang up') } });
    const err = await failure(t.issuer.issue(wanted(['www.example.com'])));
    expect([err.code, err.retryable]).toEqual(['DNS_PROVIDER', true]);
  });

  it('returns the certificate even when clean-up fails, with a warning', async () => {
    const t = setup({}, { dnsFail: { cleanUp: new Error('gone away') } });
    const bundle = await t.issuer.issue(wanted(['www.example.com']));
    expect(bundle.cert).toContain('BEGIN CERTIFICATE');
    expect(t.lines.join('')).toContain('could not remove ACME challenge TXT records');
  });

  it('on abort during propagation: ABORTED, records removed, pending authorizations deactivated', async () => {
    const controller = new AbortController();
    const t = setup(
      {},
      {
        propagate: async () => {
          controller.abort();
        },
      },
    );
    const err = await failure(t.issuer.issue(wanted(['www.example.com']), { signal: controller.signal }));
    expect(err.code).toBe('ABORTED');
    expect(t.dns.cleaned).toHaveLength(1);
    expect(t.fake.calls).not.toContain('completeChallenge');
    expect(t.fake.deactivated).toEqual(['www.example.com']);
    // The clean-up client carries no (aborted) signal.
    expect(t.fake.specs.at(-1)?.signal).toBeUndefined();
  });

  it('passes a rate limit through untouched and touches no DNS', async () => {
    const limited = new WhisperError('ACME_RATE_LIMITED', 'certificate www.example.com: rate limited', {
      retryable: true,
      retryAfter: new Date('2026-11-24T00:00:00Z'),
    });
    const t = setup({ failAt: { createOrder: { error: limited } } });
    const err = await failure(t.issuer.issue(wanted(['www.example.com'])));
    expect(err).toBe(limited);
    expect(t.events).toEqual([]);
  });

  it('maps a plain acme-client error to ACME_BAD_RESPONSE naming the step', async () => {
    const t = setup({ failAt: { createOrder: { error: new Error('Creating a new order did not return an order link') } } });
    const err = await failure(t.issuer.issue(wanted(['www.example.com'])));
    expect(err.code).toBe('ACME_BAD_RESPONSE');
    expect(err.message).toContain('certificate www.example.com: createOrder failed');
  });

  it('looks the account up again once when the CA no longer knows it', async () => {
    const gone = new WhisperError('ACME_ACCOUNT', 'certificate www.example.com: accountDoesNotExist');
    const t = setup({ failAt: { createOrder: { error: gone, times: 1 } } });
    const bundle = await t.issuer.issue(wanted(['www.example.com']));
    expect(bundle.cert).toContain('BEGIN CERTIFICATE');
    expect(t.fake.calls.filter((c) => c === 'createAccount')).toHaveLength(1);
    expect(t.fake.calls.filter((c) => c === 'createOrder')).toHaveLength(2);
  });

  it('honours keyType', async () => {
    const t = setup({}, { keyType: 'rsa2048' });
    const bundle = await t.issuer.issue(wanted(['www.example.com']));
    expect(createPrivateKey(bundle.key).asymmetricKeyType).toBe('rsa');
  });

  it('reads the directory', async () => {
    const t = setup();
    expect(await t.issuer.directory?.()).toEqual({ newOrder: 'https://ca.test/new-order' });
  });
});
