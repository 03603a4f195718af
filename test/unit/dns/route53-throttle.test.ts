import { describe, it, expect } from 'vitest';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retryDelayMs, throttleRoute53 } from '../../../src/dns/route53-throttle.js';
import { createTokenBucket } from '../../../src/dns/token-bucket.js';
import { createRoute53Provider } from '../../../src/dns/route53.js';
import { isThrottlingError } from '../../../src/dns/route53-api.js';
import { isWhisperError, type WhisperError } from '../../../src/errors.js';
import { FakeRoute53, fakeClock } from './fake-route53.js';
import { virtualClock } from './virtual-clock.js';

const sdkError = (name: string, status: number, message = name) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

/** A FakeRoute53 whose getChange fails with `errors`, one per call, before it answers. */
function failing(errors: unknown[]) {
  const r53 = new FakeRoute53();
  const api = r53.api();
  const getChange = api.getChange;
  api.getChange = async (input, signal) => {
    const err = errors.shift();
    if (err !== undefined) {
      r53.calls.push({ op: 'getChange', input });
      throw err;
    }
    return getChange(input, signal);
  };
  return { r53, api };
}

describe('isThrottlingError', () => {
  it('knows Throttling, PriorRequestNotComplete, 429 and a 400 "Rate exceeded"', () => {
    expect(isThrottlingError(sdkError('Throttling', 400, 'Rate exceeded'))).toBe(true);
    expect(isThrottlingError(sdkError('ThrottlingException', 400))).toBe(true);
    expect(isThrottlingError(sdkError('PriorRequestNotComplete', 400))).toBe(true);
    expect(isThrottlingError(sdkError('Unknown', 429))).toBe(true);
    expect(isThrottlingError(sdkError('Unknown', 400, 'Rate exceeded'))).toBe(true);
    expect(isThrottlingError(sdkError('InvalidInput', 400))).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('starts at 500 ms for throttling and 100 ms otherwise, doubles, jitters ±50 %, caps at 20 s', () => {
    const mid = () => 0.5;
    expect(retryDelayMs(sdkError('Throttling', 400), 1, mid)).toBe(500);
    expect(retryDelayMs(sdkError('Throttling', 400), 3, mid)).toBe(2000);
    expect(retryDelayMs(sdkError('ServiceUnavailable', 503), 1, mid)).toBe(100);
    expect(retryDelayMs(sdkError('Throttling', 400), 1, () => 0)).toBe(250);
    expect(retryDelayMs(sdkError('Throttling', 400), 1, () => 1)).toBe(750);
    expect(retryDelayMs(sdkError('Throttling', 400), 20, mid)).toBe(20_000);
  });
});

describe('throttleRoute53', () => {
  it('backs off with jitter on throttling and succeeds, each attempt through the bucket', async () => {
    const clock = virtualClock(0);
    const { r53, api } = failing([
      sdkError('Throttling', 400, 'Rate exceeded'),
      sdkError('PriorRequestNotComplete', 400),
      sdkError('Unknown', 400, 'Rate exceeded'),
    ]);
    const takes: number[] = [];
    const bucket = createTokenBucket({ ratePerSecond: 10, now: clock.now, sleep: clock.sleep });
    const counting = { take: async (s?: AbortSignal) => (await bucket.take(s), void takes.push(clock.now())) };
    const retries: number[] = [];
    const throttled = throttleRoute53(api, {
      bucket: counting,
      sleep: clock.sleep,
      random: () => 0.5,
      onRetry: (r) => retries.push(r.delayMs),
    });
    const res = throttled.getChange({ Id: '/change/C1' });
    await clock.advance(10_000);
    expect((await res).ChangeInfo?.Status).toBe('INSYNC');
    expect(r53.callsOf('getChange')).toHaveLength(4);
    expect(retries).toEqual([500, 1000, 2000]);
    expect(takes).toEqual([0, 500, 1500, 3500]);
  });

  it('gives up after maxAttempts with the last error, which the provider reports as retryable', async () => {
    const clock = fakeClock();
    const r53 = new FakeRoute53();
    r53.addZone('example.com');
    const api = r53.api();
    api.changeResourceRecordSets = async (input) => {
      r53.calls.push({ op: 'changeResourceRecordSets', input });
      throw sdkError('Throttling', 400, 'Rate exceeded');
    };
    const provider = createRoute53Provider({
      credentialsFile: join(tmpdir(), 'whisper-ts-no-such-credentials-file'),
      configFile: join(tmpdir(), 'whisper-ts-no-such-config-file'),
      clientFor: () => api,
      sleep: clock.sleep,
      now: clock.now,
      maxAttempts: 4,
    });
    const err = (await provider.present([{ fqdn: '_acme-challenge.example.com', value: 'v' }]).catch((e: unknown) => e)) as WhisperError;
    expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('Throttling');
    expect(r53.callsOf('changeResourceRecordSets')).toHaveLength(4);
  });

  it('does not retry what will fail again, nor after an abort', async () => {
    const clock = fakeClock();
    const bucket = createTokenBucket({ ratePerSecond: 10, now: clock.now, sleep: clock.sleep });
    const denied = failing([sdkError('AccessDenied', 403)]);
    await expect(throttleRoute53(denied.api, { bucket, sleep: clock.sleep }).getChange({ Id: 'C' })).rejects.toThrow(
      'AccessDenied',
    );
    expect(denied.r53.callsOf('getChange')).toHaveLength(1);

    const controller = new AbortController();
    const busy = failing([sdkError('Throttling', 400), sdkError('Throttling', 400)]);
    const wrapped = throttleRoute53(busy.api, {
      bucket,
      sleep: clock.sleep,
      onRetry: () => controller.abort(),
    });
    const err = await wrapped.getChange({ Id: 'C' }, controller.signal).catch((e: unknown) => e);
    expect(isWhisperError(err, 'ABORTED')).toBe(true);
    expect(busy.r53.callsOf('getChange')).toHaveLength(1);
  });
});

/** A stand-in Route53 endpoint that answers every request with a Throttling error, counting them. */
async function throttlingEndpoint() {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(400, { 'content-type': 'text/xml' });
    res.end(
      '<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
        '<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>' +
        '<RequestId>r1</RequestId></ErrorResponse>',
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('the SDK client beneath', () => {
  it('makes one request per attempt: its own retries are off, so throttling is not retried twice over', async () => {
    const endpoint = await throttlingEndpoint();
    const dir = await mkdtemp(join(tmpdir(), 'whisper-r53-sdk-'));
    const clock = fakeClock();
    try {
      const credentialsFile = join(dir, 'credentials');
      await writeFile(credentialsFile, '[example.com]\naws_access_key_id = AKID\naws_secret_access_key = s\n');
      const provider = createRoute53Provider({
        endpoint: endpoint.url,
        credentialsFile,
        configFile: join(dir, 'config'),
        sleep: clock.sleep,
        now: clock.now,
        maxAttempts: 3,
      });
      const err = (await provider
        .present([{ fqdn: '_acme-challenge.www.example.com', value: 'v' }])
        .catch((e: unknown) => e)) as WhisperError;
      await provider.close?.();
      expect(isWhisperError(err, 'DNS_PROVIDER')).toBe(true);
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('Throttling');
      // ListHostedZones, three attempts in all (the SDK's default would have made 3 × 3).
      expect(endpoint.requests).toHaveLength(3);
      expect(endpoint.requests.every((r) => r.startsWith('GET /2013-04-01/hostedzone?'))).toBe(true);
      // Two backoffs, and the bucket's spacing (fake clock: its sleeps add up).
      expect(clock.sleeps.filter((ms) => ms >= 250)).toHaveLength(2);
    } finally {
      await endpoint.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
