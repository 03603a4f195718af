import { describe, it, expect } from 'vitest';
import { isWhisperError } from '../../../src/errors.js';
import { ariCertId, ariRetryAfter, fetchRenewalInfo, pickInWindow, type AriFetch } from '../../../src/acme/ari.js';
import { makeBundle } from '../store/x509-fixture.js';
import { OPENSSL_CA_KEY_ID, OPENSSL_FULL_AKI, OPENSSL_HIGH_BIT, OPENSSL_SMALL_SERIAL, RFC9773_EXAMPLE } from './ari-fixtures.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/:/g, ''), 'hex');
const keyId = hex(OPENSSL_CA_KEY_ID).toString('base64url');

describe('ariCertId', () => {
  it('matches the example of RFC 9773', () => {
    expect(ariCertId(RFC9773_EXAMPLE)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('keeps the 0x00 of a serial whose high bit is set (OpenSSL certificate)', () => {
    const serial = Buffer.concat([Buffer.from([0]), hex(OPENSSL_HIGH_BIT.serial)]).toString('base64url');
    expect(ariCertId(OPENSSL_HIGH_BIT.pem)).toBe(`${keyId}.${serial}`);
  });

  it('encodes a short serial as its content octets', () => {
    expect(ariCertId(OPENSSL_SMALL_SERIAL.pem)).toBe(`${keyId}.${hex(OPENSSL_SMALL_SERIAL.serial).toString('base64url')}`);
  });

  it('takes the keyIdentifier when the AKI also names the issuer and its serial', () => {
    expect(ariCertId(OPENSSL_FULL_AKI.pem)).toBe(`${keyId}.fw`);
  });

  it('reads the first certificate of a chain', () => {
    expect(ariCertId(`${RFC9773_EXAMPLE}${OPENSSL_HIGH_BIT.pem}`)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('refuses a certificate without an Authority Key Identifier', () => {
    const { cert } = makeBundle(['a.example.com']);
    expect(() => ariCertId(cert)).toThrow(/no Authority Key Identifier/);
  });

  it('refuses text that is not a certificate', () => {
    let caught: unknown;
    try {
      ariCertId('-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n');
    } catch (err) {
      caught = err;
    }
    expect(isWhisperError(caught, 'ACME_BAD_RESPONSE')).toBe(true);
    expect(() => ariCertId('hello')).toThrow(/no PEM certificate/);
  });
});

const NOW = Date.parse('2026-03-01T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

describe('ariRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(ariRetryAfter('21600', NOW).getTime()).toBe(NOW + 6 * HOUR);
    expect(ariRetryAfter(' 3600 ', NOW).getTime()).toBe(NOW + HOUR);
  });

  it('reads an HTTP date', () => {
    expect(ariRetryAfter('Sun, 01 Mar 2026 02:00:00 GMT', NOW).getTime()).toBe(NOW + 2 * HOUR);
  });

  it('defaults to six hours when absent or unparsable', () => {
    expect(ariRetryAfter(null, NOW).getTime()).toBe(NOW + 6 * HOUR);
    expect(ariRetryAfter(undefined, NOW).getTime()).toBe(NOW + 6 * HOUR);
    expect(ariRetryAfter('soon', NOW).getTime()).toBe(NOW + 6 * HOUR);
    expect(ariRetryAfter('-5', NOW).getTime()).toBe(NOW + 6 * HOUR);
  });

  it('clamps to [1 min, 24 h]', () => {
    expect(ariRetryAfter('0', NOW).getTime()).toBe(NOW + MIN);
    expect(ariRetryAfter('5', NOW).getTime()).toBe(NOW + MIN);
    expect(ariRetryAfter('Sat, 28 Feb 2026 00:00:00 GMT', NOW).getTime()).toBe(NOW + MIN);
    expect(ariRetryAfter(String(7 * 24 * 3600), NOW).getTime()).toBe(NOW + 24 * HOUR);
  });
});

interface Call {
  url: string;
  signal: AbortSignal | undefined;
}

function fakeFetch(status: number, body: string, headers: Record<string, string> = {}, calls: Call[] = []): AriFetch {
  return async (url, init) => {
    calls.push({ url, signal: init?.signal });
    return { status, headers: { get: (n) => headers[n.toLowerCase()] ?? null }, text: async () => body };
  };
}

const WINDOW = JSON.stringify({
  suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' },
  explanationURL: 'https://ca.example/why',
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('fetchRenewalInfo', () => {
  it('GETs <renewalInfo>/<certID> and returns the window, explanation and Retry-After', async () => {
    const calls: Call[] = [];
    const signal = new AbortController().signal;
    const info = await fetchRenewalInfo('https://ca.example/renewal-info/', 'abc.AQ', {
      fetch: fakeFetch(200, WINDOW, { 'retry-after': '3600' }, calls),
      signal,
      now: () => NOW,
    });
    expect(calls).toEqual([{ url: 'https://ca.example/renewal-info/abc.AQ', signal }]);
    expect(info).toEqual({
      start: new Date('2026-03-10T00:00:00Z'),
      end: new Date('2026-03-12T00:00:00Z'),
      explanationUrl: 'https://ca.example/why',
      retryAfter: new Date(NOW + HOUR),
    });
  });

  it('has no explanation when the CA gives none, and re-polls in 6 h without Retry-After', async () => {
    const body = JSON.stringify({ suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' } });
    const info = await fetchRenewalInfo('https://ca.example/ri', 'x.y', { fetch: fakeFetch(200, body), now: () => NOW });
    expect(info.explanationUrl).toBeUndefined();
    expect(info.retryAfter).toEqual(new Date(NOW + 6 * HOUR));
  });

  it('rejects invalid JSON, a missing window, and a window that ends before it starts', async () => {
    const opts = (body: string) => ({ fetch: fakeFetch(200, body), now: () => NOW });
    const bodies = [
      '<html>oops</html>',
      '{}',
      JSON.stringify({ suggestedWindow: { start: 'nope', end: '2026-03-12T00:00:00Z' } }),
      JSON.stringify({ suggestedWindow: { start: '2026-03-12T00:00:00Z', end: '2026-03-12T00:00:00Z' } }),
      JSON.stringify({ suggestedWindow: { start: '2026-03-12T00:00:00Z', end: '2026-03-11T00:00:00Z' } }),
    ];
    for (const body of bodies) {
      const err = await failure(fetchRenewalInfo('https://ca.example/ri', 'x.y', opts(body)));
      expect(isWhisperError(err, 'ACME_BAD_RESPONSE'), body).toBe(true);
    }
  });

  it('maps HTTP errors: 404 final, 5xx retryable, 429 rate limited, all with retryAfter', async () => {
    const e404 = await failure(fetchRenewalInfo('https://ca.example/ri', 'x.y', { fetch: fakeFetch(404, ''), now: () => NOW }));
    expect(isWhisperError(e404, 'ACME_BAD_RESPONSE') && !e404.retryable).toBe(true);
    const e503 = await failure(
      fetchRenewalInfo('https://ca.example/ri', 'x.y', { fetch: fakeFetch(503, '', { 'retry-after': '120' }), now: () => NOW }),
    );
    expect(isWhisperError(e503, 'ACME_BAD_RESPONSE') && e503.retryable).toBe(true);
    expect(isWhisperError(e503) && e503.retryAfter).toEqual(new Date(NOW + 2 * MIN));
    const e429 = await failure(
      fetchRenewalInfo('https://ca.example/ri', 'x.y', { fetch: fakeFetch(429, '', { 'retry-after': '600' }), now: () => NOW }),
    );
    expect(isWhisperError(e429, 'ACME_RATE_LIMITED') && e429.retryAfter).toEqual(new Date(NOW + 10 * MIN));
  });

  it('reports an unreachable CA as retryable and an abort as ABORTED', async () => {
    const broken: AriFetch = async () => {
      throw new Error('ECONNREFUSED');
    };
    const down = await failure(fetchRenewalInfo('https://ca.example/ri', 'x.y', { fetch: broken, now: () => NOW }));
    expect(isWhisperError(down, 'ACME_ORDER') && down.retryable).toBe(true);
    const controller = new AbortController();
    controller.abort();
    const aborted = await failure(fetchRenewalInfo('https://ca.example/ri', 'x.y', { fetch: broken, signal: controller.signal, now: () => NOW }));
    expect(isWhisperError(aborted, 'ABORTED')).toBe(true);
  });
});

describe('pickInWindow', () => {
  const window = { start: new Date('2026-03-10T00:00:00Z'), end: new Date('2026-03-12T00:00:00Z') };
  const span = window.end.getTime() - window.start.getTime();

  it('draws uniformly in [start, end) with the injected random', () => {
    expect(pickInWindow(window, () => 0, NOW)).toEqual(window.start);
    expect(pickInWindow(window, () => 0.5, NOW).getTime()).toBe(window.start.getTime() + span / 2);
    expect(pickInWindow(window, () => 0.25, NOW).getTime()).toBe(window.start.getTime() + span / 4);
    const last = pickInWindow(window, () => 0.9999999999, NOW).getTime();
    expect(last).toBeLessThan(window.end.getTime());
    expect(last).toBeGreaterThan(window.end.getTime() - 1000);
  });

  it('renews now when the window is over', () => {
    const later = window.end.getTime() + HOUR;
    expect(pickInWindow(window, () => 0.5, later).getTime()).toBe(later);
  });

  it('renews now when the drawn moment has already passed inside an open window', () => {
    const inside = window.start.getTime() + span * 0.75;
    expect(pickInWindow(window, () => 0.5, inside).getTime()).toBe(inside);
    expect(pickInWindow(window, () => 0.9, inside).getTime()).toBe(window.start.getTime() + span * 0.9);
  });
});
