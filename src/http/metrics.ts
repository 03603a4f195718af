import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorCode } from '../errors.js';
import { isWhisperError } from '../errors.js';
import type { BucketSnapshot } from '../limits/budget.js';

/** What the metrics read at scrape time; the daemon attaches them as its parts come to life. */
export interface MetricsSources {
  /** Jobs waiting or running in the issuance queue. */
  readonly queueDepth?: () => number;
  /** The rate-limit budget's buckets at `now` (epoch ms). */
  readonly budget?: (now: number) => readonly BucketSnapshot[];
  /** When the catalog watcher last heard from Consul (epoch ms), `undefined` before the first answer. */
  readonly watcherLastSuccess?: () => number | undefined;
  /** The certificates in the folder (id and expiry). */
  readonly certificates?: () => Promise<ReadonlyArray<{ readonly id: string; readonly notAfter: Date }>>;
  /** Whether the ACME account is registered and loaded. */
  readonly accountReady?: () => boolean;
  /** Consul's `/v1/status/leader` (a reachability probe for `/readyz`). */
  readonly consulLeader?: (signal: AbortSignal) => Promise<string>;
  /** Whether this instance leads (set through {@link WhisperMetrics.setLeader}; read-only here). */
  readonly leader?: () => boolean;
  /** Deliveries and removals waiting, retried or under way, per target name (see `targets/manager.ts`). */
  readonly targetsPending?: () => ReadonlyMap<string, number>;
}

/** The daemon's Prometheus metrics, on a registry of their own. */
export interface WhisperMetrics {
  readonly registry: Registry;
  /** The sources attached so far. */
  readonly sources: MetricsSources;
  /** Adds (or replaces) scrape-time sources. */
  attach(sources: MetricsSources): void;
  /** An ACME order began (`whisper_issuance_attempts_total`). */
  orderStarted(): void;
  /** An ACME order ended after `durationMs`; `error` when it failed (counted by its code). */
  orderFinished(durationMs: number, error?: unknown): void;
  /** Whether this instance leads (high availability); 1 until told otherwise. */
  setLeader(leader: boolean): void;
  /**
   * A delivery (`kind` deliver) or removal of a certificate by a target ended at `at` (epoch ms):
   * `whisper_target_deliveries_total`, `whisper_target_removals_total`, and on success
   * `whisper_target_last_success_timestamp_seconds`.
   */
  delivery(target: string, kind: 'deliver' | 'remove', result: 'success' | 'failure' | 'skipped', at: number): void;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** The clock. @default Date.now */
  readonly now?: () => number;
  /** Also collect Node's process metrics (`process_*`, `nodejs_*`). @default true */
  readonly defaultMetrics?: boolean;
}

/** Seconds, for the order duration histogram: DNS propagation makes orders take seconds to minutes. */
const ORDER_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Creates the metrics of one daemon (its own {@link Registry}, so tests and embedders do not collide). */
export function createMetrics(options: MetricsOptions = {}): WhisperMetrics {
  const now = options.now ?? Date.now;
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  let sources: MetricsSources = {};
  let leading = true;

  new Gauge({
    name: 'whisper_certificate_expiry_timestamp_seconds',
    help: 'notAfter of each certificate in the folder, as a Unix timestamp',
    labelNames: ['cert'],
    registers: [registry],
    async collect() {
      this.reset();
      const certs = (await sources.certificates?.()) ?? [];
      for (const c of certs) this.set({ cert: c.id }, c.notAfter.getTime() / 1000);
    },
  });
  const attempts = new Counter({ name: 'whisper_issuance_attempts_total', help: 'ACME orders started', registers: [registry] });
  const failures = new Counter({
    name: 'whisper_issuance_failures_total',
    help: 'ACME orders that failed, by error code',
    labelNames: ['code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'whisper_order_duration_seconds',
    help: 'Duration of ACME orders (challenges, propagation, finalization), by result',
    labelNames: ['result'],
    buckets: ORDER_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'whisper_queue_depth',
    help: 'Certificates waiting or running in the issuance queue',
    registers: [registry],
    collect() {
      this.set(sources.queueDepth?.() ?? 0);
    },
  });
  new Gauge({
    name: 'whisper_ratelimit_remaining',
    help: 'Orders the CA rate-limit budget still allows, per bucket and key',
    labelNames: ['bucket', 'key'],
    registers: [registry],
    collect() {
      this.reset();
      for (const b of sources.budget?.(now()) ?? []) this.set({ bucket: b.bucket, key: b.key }, b.remaining);
    },
  });
  new Gauge({
    name: 'whisper_consul_last_success_timestamp_seconds',
    help: 'When the catalog watcher last got an answer from Consul, as a Unix timestamp (0: never)',
    registers: [registry],
    collect() {
      this.set((sources.watcherLastSuccess?.() ?? 0) / 1000);
    },
  });
  const deliveries = new Counter({
    name: 'whisper_target_deliveries_total',
    help: 'Certificate deliveries to targets, by target and result (success, failure, skipped: already delivered)',
    labelNames: ['target', 'result'],
    registers: [registry],
  });
  const removals = new Counter({
    name: 'whisper_target_removals_total',
    help: 'Removals of superseded certificates from targets, by target and result',
    labelNames: ['target', 'result'],
    registers: [registry],
  });
  const lastDelivery = new Gauge({
    name: 'whisper_target_last_success_timestamp_seconds',
    help: 'When each target last took a delivery or removal, as a Unix timestamp',
    labelNames: ['target'],
    registers: [registry],
  });
  new Gauge({
    name: 'whisper_target_pending',
    help: 'Deliveries and removals waiting, retried or under way, per target',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [target, n] of sources.targetsPending?.() ?? []) this.set({ target }, n);
    },
  });
  const leader = new Gauge({ name: 'whisper_leader', help: '1 when this instance orders certificates (the leader, or no HA), else 0', registers: [registry] });
  leader.set(1);
  attempts.inc(0);

  return {
    registry,
    get sources() {
      return { ...sources, leader: () => leading };
    },
    attach(more) {
      sources = { ...sources, ...more };
    },
    orderStarted() {
      attempts.inc();
    },
    orderFinished(durationMs, error) {
      duration.observe({ result: error === undefined ? 'success' : 'failure' }, Math.max(0, durationMs) / 1000);
      if (error !== undefined) failures.inc({ code: errorCode(error) });
    },
    setLeader(isLeader) {
      leading = isLeader;
      leader.set(isLeader ? 1 : 0);
    },
    delivery(target, kind, result, at) {
      (kind === 'deliver' ? deliveries : removals).inc({ target, result });
      if (result === 'success') lastDelivery.set({ target }, at / 1000);
    },
  } satisfies WhisperMetrics;
}

function errorCode(err: unknown): ErrorCode {
  return isWhisperError(err) ? err.code : 'INTERNAL';
}
