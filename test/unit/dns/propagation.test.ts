import { describe, it, expect } from 'vitest';
import {
  findAuthoritativeServers,
  waitForPropagation,
  type NsLookups,
  type TxtQuery,
} from '../../../src/dns/propagation.js';
import { isWhisperError, type WhisperError } from '../../../src/errors.js';
import { createRfc2136Provider } from '../../../src/dns/rfc2136.js';
import { fakeClock } from './fake-route53.js';

const SECRET = 'propagation-secret-value-0123456789';

/** A fake DNS: per server and name, the values it answers after a number of queries. */
function fakeDns(plan: Record<string, Record<string, { values: string[]; after?: number; error?: string }>>) {
  const asked: string[] = [];
  const counts = new Map<string, number>();
  const query: TxtQuery = async (server, name) => {
    const key = `${server} ${name}`;
    asked.push(key);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const entry = plan[server]?.[name];
    if (!entry) return [];
    if (entry.error && n <= (entry.after ?? 0)) throw Object.assign(new Error('dns'), { code: entry.error });
    return n > (entry.after ?? 0) ? entry.values : [];
  };
  return { query, asked };
}

describe('waitForPropagation', () => {
  it('resolves once every server has every value, extra values allowed', async () => {
    const clock = fakeClock();
    const dns = fakeDns({
      'ns1:53': { '_acme-challenge.example.com': { values: ['a', 'b', 'other'] } },
      'ns2:53': { '_acme-challenge.example.com': { values: ['b', 'a'], after: 2 } },
    });
    await waitForPropagation(
      [
        { fqdn: '_acme-challenge.example.com', value: 'a' },
        { fqdn: '_acme-challenge.example.com', value: 'b' },
      ],
      { servers: ['ns1:53', 'ns2:53'], queryTxt: dns.query, sleep: clock.sleep, now: clock.now },
    );
    // ns1 had them at once and was not asked again; ns2 on its third answer.
    expect(dns.asked.filter((a) => a.startsWith('ns1'))).toHaveLength(1);
    expect(dns.asked.filter((a) => a.startsWith('ns2'))).toHaveLength(3);
    expect(clock.sleeps).toEqual([500, 750]);
  });

  it('waits for all values, not just one', async () => {
    const clock = fakeClock();
    const dns = fakeDns({ s: { n: { values: ['a'] } } });
    const err = await waitForPropagation(
      [
        { fqdn: 'n', value: 'a' },
        { fqdn: 'n', value: 'b' },
      ],
      { servers: ['s'], queryTxt: dns.query, sleep: clock.sleep, now: clock.now, timeoutMs: 5000 },
    ).catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_PROPAGATION_TIMEOUT')).toBe(true);
  });

  it('times out with a retryable error naming the record and the servers still missing it', async () => {
    const clock = fakeClock();
    const dns = fakeDns({
      '10.0.0.1:53': { '_acme-challenge.www.example.com': { values: [SECRET] } },
      '10.0.0.2:53': { '_acme-challenge.www.example.com': { values: [SECRET], after: 1_000_000, error: 'ETIMEOUT' } },
    });
    const err = (await waitForPropagation([{ fqdn: '_acme-challenge.www.example.com', value: SECRET }], {
      servers: ['10.0.0.1:53', '10.0.0.2:53'],
      queryTxt: dns.query,
      sleep: clock.sleep,
      now: clock.now,
      timeoutMs: 60_000,
    }).catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_PROPAGATION_TIMEOUT')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('_acme-challenge.www.example.com not yet on 10.0.0.2:53 (ETIMEOUT)');
    expect(err.message).not.toContain('10.0.0.1');
    expect(err.message).not.toContain(SECRET);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(Math.max(...clock.sleeps)).toBe(10_000);
  });

  it("asks the --dns-resolver servers, not the provider's own (RFC 2136: its update server)", async () => {
    const clock = fakeClock();
    const dns = fakeDns({ 'resolver:53': { n: { values: ['v'] } }, 'bind:53': { n: { values: ['v'] } } });
    const provider = createRfc2136Provider({ server: 'bind:53', transport: async () => Promise.reject(new Error('no updates here')) });
    await waitForPropagation([{ fqdn: 'n', value: 'v' }], {
      servers: ['resolver:53'],
      nameservers: provider.nameservers!.bind(provider),
      queryTxt: dns.query,
      sleep: clock.sleep,
      now: clock.now,
    });
    expect(dns.asked).toEqual(['resolver:53 n']);
  });

  it("asks the provider's own name servers when no --dns-resolver is given", async () => {
    const clock = fakeClock();
    const dns = fakeDns({ 'bind:53': { n: { values: ['v'] } } });
    const lookups: NsLookups = {
      ns: async () => Promise.reject(new Error('no NS lookup expected')),
      addresses: async () => Promise.reject(new Error('no address lookup expected')),
    };
    await waitForPropagation([{ fqdn: 'n', value: 'v' }], {
      nameservers: async () => ['bind:53'],
      nsLookups: lookups,
      queryTxt: dns.query,
      sleep: clock.sleep,
      now: clock.now,
    });
    expect(dns.asked).toEqual(['bind:53 n']);
  });

  it('finds the authoritative servers when no server is given', async () => {
    const clock = fakeClock();
    const dns = fakeDns({ '192.0.2.1:53': { '_acme-challenge.www.example.com': { values: ['v'] } } });
    const lookups: NsLookups = {
      ns: async (name) => (name === 'example.com' ? ['ns1.example.net'] : []),
      addresses: async (host) => (host === 'ns1.example.net' ? ['192.0.2.1'] : []),
    };
    await waitForPropagation([{ fqdn: '_acme-challenge.www.example.com', value: 'v' }], {
      nsLookups: lookups,
      queryTxt: dns.query,
      sleep: clock.sleep,
      now: clock.now,
    });
    expect(dns.asked).toEqual(['192.0.2.1:53 _acme-challenge.www.example.com']);
  });

  it('stops when aborted', async () => {
    const dns = fakeDns({});
    const err = await waitForPropagation([{ fqdn: 'n', value: 'v' }], {
      servers: ['s'],
      queryTxt: dns.query,
      signal: AbortSignal.abort(),
    }).catch((e: unknown) => e);
    expect(isWhisperError(err, 'ABORTED')).toBe(true);
  });
});

describe('findAuthoritativeServers', () => {
  it('walks up to the first name with NS records and resolves every NS host', async () => {
    const asked: string[] = [];
    const lookups: NsLookups = {
      ns: async (name) => {
        asked.push(name);
        return name === 'b.example.com' ? ['ns1.dns.test', 'ns2.dns.test', 'ns3.dns.test'] : [];
      },
      addresses: async (host) => {
        if (host === 'ns1.dns.test') return ['192.0.2.1'];
        if (host === 'ns2.dns.test') return ['2001:db8::2', '192.0.2.1'];
        throw new Error('ENOTFOUND');
      },
    };
    expect(await findAuthoritativeServers('_acme-challenge.a.b.example.com', lookups)).toEqual([
      '192.0.2.1:53',
      '[2001:db8::2]:53',
    ]);
    expect(asked).toEqual(['_acme-challenge.a.b.example.com', 'a.b.example.com', 'b.example.com']);
  });

  it('throws a retryable DNS_ZONE_NOT_FOUND when nothing is found', async () => {
    const lookups: NsLookups = { ns: async () => [], addresses: async () => [] };
    const err = (await findAuthoritativeServers('x.example.com', lookups).catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_ZONE_NOT_FOUND')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('x.example.com');
  });
});
