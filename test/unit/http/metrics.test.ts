import { describe, it, expect } from 'vitest';
import { WhisperError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/http/metrics.js';

async function scrape(metrics: ReturnType<typeof createMetrics>): Promise<string> {
  return metrics.registry.metrics();
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  it('reads the attached sources at scrape time', async () => {
    const metrics = createMetrics({ now: () => 1_700_000_000_000, defaultMetrics: false });
    let depth = 3;
    metrics.attach({
      queueDepth: () => depth,
      watcherLastSuccess: () => 1_699_999_990_000,
      budget: (now) => [
        { bucket: 'newOrders', key: 'acct', remaining: now === 1_700_000_000_000 ? 299 : -1, capacity: 300 },
        { bucket: 'retryAfter', key: 'a.example', remaining: 0, capacity: 1 },
      ],
      certificates: () => Promise.resolve([{ id: 'www.example.com', notAfter: new Date('2030-01-02T03:04:05Z') }]),
    });
    let text = await scrape(metrics);
    expect(value(text, 'whisper_queue_depth')).toBe(3);
    expect(value(text, 'whisper_consul_last_success_timestamp_seconds')).toBe(1_699_999_990);
    expect(value(text, 'whisper_ratelimit_remaining{bucket="newOrders",key="acct"}')).toBe(299);
    expect(value(text, 'whisper_ratelimit_remaining{bucket="retryAfter",key="a.example"}')).toBe(0);
    expect(value(text, 'whisper_certificate_expiry_timestamp_seconds{cert="www.example.com"}')).toBe(Date.UTC(2030, 0, 2, 3, 4, 5) / 1000);
    expect(value(text, 'whisper_leader')).toBe(1);
    expect(value(text, 'whisper_issuance_attempts_total')).toBe(0);
    depth = 0;
    text = await scrape(metrics);
    expect(value(text, 'whisper_queue_depth')).toBe(0);
  });

  it('drops certificates that left the folder', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let certs = [{ id: 'a', notAfter: new Date(1000_000) }, { id: 'b', notAfter: new Date(2000_000) }];
    metrics.attach({ certificates: () => Promise.resolve(certs) });
    expect(await scrape(metrics)).toContain('cert="b"');
    certs = [certs[0]!];
    const text = await scrape(metrics);
    expect(value(text, 'whisper_certificate_expiry_timestamp_seconds{cert="a"}')).toBe(1000);
    expect(text).not.toContain('cert="b"');
  });

  it('shows zero and never-seen values before any source is attached', async () => {
    const text = await scrape(createMetrics({ defaultMetrics: false }));
    expect(value(text, 'whisper_queue_depth')).toBe(0);
    expect(value(text, 'whisper_consul_last_success_timestamp_seconds')).toBe(0);
    expect(text).toContain('# TYPE whisper_certificate_expiry_timestamp_seconds gauge');
    expect(text).toContain('# TYPE whisper_order_duration_seconds histogram');
  });

  it('counts orders, failures by code, and their durations', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.orderStarted();
    metrics.orderFinished(12_000);
    metrics.orderStarted();
    metrics.orderFinished(500, new WhisperError('DNS_PROPAGATION_TIMEOUT', 'x'));
    metrics.orderStarted();
    metrics.orderFinished(700, new Error('plain'));
    const text = await scrape(metrics);
    expect(value(text, 'whisper_issuance_attempts_total')).toBe(3);
    expect(value(text, 'whisper_issuance_failures_total{code="DNS_PROPAGATION_TIMEOUT"}')).toBe(1);
    expect(value(text, 'whisper_issuance_failures_total{code="INTERNAL"}')).toBe(1);
    expect(value(text, 'whisper_order_duration_seconds_count{result="success"}')).toBe(1);
    expect(value(text, 'whisper_order_duration_seconds_sum{result="success"}')).toBe(12);
    expect(value(text, 'whisper_order_duration_seconds_bucket{le="30",result="success"}')).toBe(1);
    expect(value(text, 'whisper_order_duration_seconds_bucket{le="10",result="success"}')).toBe(0);
    expect(value(text, 'whisper_order_duration_seconds_count{result="failure"}')).toBe(2);
  });

  it('exposes a leader setter for high availability', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.setLeader(false);
    expect(value(await scrape(metrics), 'whisper_leader')).toBe(0);
    expect(metrics.sources.leader?.()).toBe(false);
    metrics.setLeader(true);
    expect(value(await scrape(metrics), 'whisper_leader')).toBe(1);
  });

  it('collects the process metrics by default, on its own registry', async () => {
    const a = createMetrics();
    const b = createMetrics();
    expect(await scrape(a)).toContain('process_cpu_user_seconds_total');
    expect(await scrape(b)).toContain('nodejs_heap_size_total_bytes');
  });
});
