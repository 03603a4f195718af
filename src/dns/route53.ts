import { Route53Client } from '@aws-sdk/client-route-53';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { silentLogger, type Logger } from '../log.js';
import { abortableSleep, type Sleep } from './propagation.js';
import type { DnsChangeWait, DnsProvider, TxtRecord } from './provider.js';
import { isAccessDenied, route53Error, wrapRoute53Client, type Route53Api } from './route53-api.js';
import { chooseProfile, defaultConfigFile, defaultCredentialsFile, readProfileNames } from './route53-credentials.js';
import { cleanUpChange, presentChange, type TxtSet } from './route53-records.js';
import { readTxtSets } from './route53-read.js';
import { quoteTxt } from './txt.js';
import { splitChanges } from './route53-limits.js';
import { createChangeWaiter } from './route53-wait.js';
import { route53Bucket, throttleRoute53 } from './route53-throttle.js';
import type { TokenBucket } from './token-bucket.js';
import { createZoneFinder, type HostedZoneRef } from './route53-zones.js';

/** Options of {@link createRoute53Provider}. */
export interface Route53ProviderOptions {
  /** API endpoint URL, for an emulator (moto). @default the AWS endpoint of `region` */
  endpoint?: string;
  /** @default 'us-east-1' */
  region?: string;
  /**
   * Shared credentials file, searched for per-domain profiles (`[<zone>]`).
   * @default `AWS_SHARED_CREDENTIALS_FILE`, else ~/.aws/credentials
   */
  credentialsFile?: string;
  /** Shared config file, searched for per-domain profiles (`[profile <zone>]`). @default `AWS_CONFIG_FILE`, else ~/.aws/config */
  configFile?: string;
  /**
   * One credentials profile for every record (a config file's named back end), instead of the profile named after
   * each record's domain. @default per domain, whisper's rule
   */
  profile?: string;
  /** Makes the API client of a profile (`undefined`: the default chain). For tests. @default an SDK Route53Client */
  clientFor?: (profile: string | undefined) => Route53Api;
  /**
   * Attempts per call, the first included: throttling, a busy zone, 5xx and network failures are tried again with
   * backoff, each attempt through the token bucket (the SDK client itself makes one attempt). @default 6
   */
  maxAttempts?: number;
  /**
   * Route53 requests per second of this provider at most, every profile together (they may be one account, and
   * Route53's limit is per account): calls are spaced evenly, a little more than 1000 / n ms apart. @default 10
   */
  requestsPerSecond?: number;
  /** The token bucket every call takes from (tests, or sharing one limit). @default a bucket of `requestsPerSecond` */
  bucket?: TokenBucket;
  /** Jitter of retry delays. @default Math.random */
  random?: () => number;
  /** @default an abortable timer */
  sleep?: Sleep;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
  /** First GetChange poll delay; grows ×1.5 up to 5000. @default 500 */
  pollIntervalMs?: number;
  /** Give up waiting for INSYNC after this long. @default 120000 */
  changeTimeoutMs?: number;
  /** TTL of the TXT records written. @default 60 */
  ttl?: number;
  /** How long a found hosted zone is remembered. @default 300000 */
  zoneCacheMs?: number;
  /** @default silent */
  log?: Logger;
}

/** The records of one hosted zone, reached with one profile's client. */
interface ZoneBatch {
  readonly api: Route53Api;
  readonly zone: HostedZoneRef;
  /** Record name → values. */
  readonly names: Map<string, string[]>;
}

/** A submitted change still to wait for. */
interface Pending {
  readonly api: Route53Api;
  readonly changeId: string;
  readonly zone: HostedZoneRef;
}

/**
 * The Route53 DNS provider. Finds each record's hosted zone by the longest matching suffix, with the
 * credentials profile named after the record's domain when there is one (whisper's rule: `[<zone>]` in the shared
 * credentials file or `[profile <zone>]` in the shared config file, see {@link chooseProfile}), else the default
 * chain, and writes every record of one zone in ONE ChangeResourceRecordSets batch, merged
 * with the TXT values already there; then waits until the change is INSYNC.
 */
export function createRoute53Provider(options: Route53ProviderOptions = {}): DnsProvider {
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  const ttl = options.ttl ?? 60;
  const log = options.log ?? silentLogger();
  const sharedFiles = {
    credentialsFile: options.credentialsFile ?? defaultCredentialsFile(),
    configFile: options.configFile ?? defaultConfigFile(),
  };
  const findZone = createZoneFinder({ now, ttlMs: options.zoneCacheMs ?? 300_000 });
  const bucket = options.bucket ?? route53Bucket(options.requestsPerSecond ?? 10, now, sleep);
  const waitChange = createChangeWaiter({
    sleep,
    now,
    pollIntervalMs: options.pollIntervalMs ?? 500,
    timeoutMs: options.changeTimeoutMs ?? 120_000,
  });
  const clients = new Map<string, Route53Api>();
  // One read-modify-write at a time per zone: two orders sharing `_acme-challenge.x` must not drop each other's value.
  const zoneLocks = new Map<string, Promise<unknown>>();

  const makeClient =
    options.clientFor ??
    ((profile: string | undefined): Route53Api => {
      const files = {
        ...(options.credentialsFile ? { filepath: options.credentialsFile } : {}),
        ...(options.configFile ? { configFilepath: options.configFile } : {}),
      };
      const credentials =
        profile !== undefined
          ? fromIni({ profile, ...files })
          : Object.keys(files).length > 0
            ? fromNodeProviderChain(files)
            : undefined;
      const client = new Route53Client({
        region: options.region ?? 'us-east-1',
        // Retries are throttleRoute53's, through the token bucket: the SDK's own would bypass it and multiply calls.
        maxAttempts: 1,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(credentials ? { credentials } : {}),
      });
      return wrapRoute53Client(client);
    });

  function apiFor(profile: string | undefined): Route53Api {
    const key = profile ?? '';
    let api = clients.get(key);
    if (!api) {
      api = throttleRoute53(makeClient(profile), {
        bucket,
        sleep,
        ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
        ...(options.random ? { random: options.random } : {}),
        onRetry: (r) => {
          const reason = r.error instanceof Error ? r.error.name : String(r.error);
          log.debug({ op: r.op, attempt: r.attempt, delayMs: r.delayMs, reason }, 'route53 retry');
        },
      });
      clients.set(key, api);
    }
    return api;
  }

  function withZoneLock<T>(zoneId: string, fn: () => Promise<T>): Promise<T> {
    const previous = zoneLocks.get(zoneId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    zoneLocks.set(zoneId, settled);
    void settled.then(() => {
      if (zoneLocks.get(zoneId) === settled) zoneLocks.delete(zoneId);
    });
    return run;
  }

  /** Groups records by hosted zone; a record whose zone cannot be found is an error of its own. */
  async function locate(records: readonly TxtRecord[], signal?: AbortSignal) {
    const profiles = await readProfileNames(sharedFiles);
    const batches = new Map<string, ZoneBatch>();
    const errors: unknown[] = [];
    for (const record of records) {
      const profile = options.profile ?? chooseProfile(record.fqdn, profiles);
      const api = apiFor(profile);
      let zone: HostedZoneRef;
      try {
        zone = await findZone(api, profile ?? '', record.fqdn, signal);
      } catch (err) {
        errors.push(err);
        continue;
      }
      const key = `${profile ?? ''}\u0000${zone.id}`;
      let batch = batches.get(key);
      if (!batch) {
        batch = { api, zone, names: new Map() };
        batches.set(key, batch);
        log.debug({ zone: zone.name, zoneId: zone.id, profile: profile ?? null }, 'route53 zone');
      }
      const values = batch.names.get(record.fqdn) ?? [];
      values.push(record.value);
      batch.names.set(record.fqdn, values);
    }
    return { batches: [...batches.values()], errors };
  }

  let warnedUnreadable = false;
  /**
   * The TXT sets of a batch's names ({@link readTxtSets}: one listing of the zone or one read per name). When the
   * IAM policy denies ListResourceRecordSets (whisper's documented policy does not grant it), whisper's behaviour:
   * assume only our values, so present overwrites the set and clean-up deletes exactly what we wrote.
   */
  async function readCurrent(batch: ZoneBatch, signal?: AbortSignal): Promise<Map<string, TxtSet>> {
    const { api, zone } = batch;
    try {
      return await readTxtSets(api, zone, [...batch.names.keys()], signal);
    } catch (err) {
      if (!isAccessDenied(err)) throw err;
      if (!warnedUnreadable) {
        warnedUnreadable = true;
        log.warn(
          { zone: zone.name },
          'route53:ListResourceRecordSets is denied: other TXT values of a name cannot be kept (grant it)',
        );
      }
      return new Map([...batch.names].map(([name, values]) => [name, { ttl, records: values.map(quoteTxt) }]));
    }
  }

  /**
   * Reads, merges and submits one zone's change: one request, cut only at Route53's limits (1,000 records,
   * 32,000 characters); the changes to wait for.
   */
  async function apply(batch: ZoneBatch, mode: 'present' | 'cleanUp', signal?: AbortSignal): Promise<Pending[]> {
    const { api, zone } = batch;
    return withZoneLock(zone.id, async () => {
      const changes = [];
      const sets = await readCurrent(batch, signal);
      for (const [name, values] of batch.names) {
        const current = sets.get(name);
        const change =
          mode === 'present' ? presentChange(name, current, values, ttl) : cleanUpChange(name, current, values);
        if (change) changes.push(change);
      }
      const pending: Pending[] = [];
      for (const part of splitChanges(changes)) {
        const names = part.map((c) => c.ResourceRecordSet?.Name?.replace(/\.$/, '')).join(', ');
        let res;
        try {
          res = await api.changeResourceRecordSets(
            { HostedZoneId: zone.id, ChangeBatch: { Comment: `whisper-ts ${mode}`, Changes: part } },
            signal,
          );
        } catch (err) {
          const secrets = [...batch.names.values()].flat();
          const what = `Route53 ChangeResourceRecordSets (${mode} TXT ${names}) in zone ${zone.name}`;
          throw route53Error(err, what, secrets);
        }
        const info = res.ChangeInfo;
        log.debug({ zone: zone.name, names, change: info?.Id, status: info?.Status }, `route53 ${mode} submitted`);
        if (info?.Id !== undefined && info.Status !== 'INSYNC') pending.push({ api, changeId: info.Id, zone });
      }
      return pending;
    });
  }

  function wait(p: Pending, signal?: AbortSignal): Promise<void> {
    return waitChange(p.api, p.changeId, `zone ${p.zone.name}`, signal);
  }

  /**
   * Submits the change of every zone the records are in, one zone after the other (the token bucket spaces the
   * calls); the wait resolves once all are INSYNC. A present fails as soon as a zone cannot be reached or refuses;
   * a clean-up goes on with the other zones (one zone's failure must not leave the others' records behind) and
   * its wait fails with the first error after waiting for the rest.
   */
  async function submit(mode: 'present' | 'cleanUp', records: readonly TxtRecord[], signal?: AbortSignal): Promise<DnsChangeWait> {
    if (records.length === 0) return async () => undefined;
    const { batches, errors } = await locate(records, signal);
    if (mode === 'present' && errors.length > 0) throw errors[0];
    const pending: Pending[] = [];
    for (const batch of batches) {
      try {
        pending.push(...(await apply(batch, mode, signal)));
      } catch (err) {
        if (mode === 'present') throw err;
        errors.push(err);
      }
    }
    return async (waitSignal) => {
      const failed = [...errors];
      const results = await Promise.allSettled(pending.map((p) => wait(p, waitSignal)));
      for (const r of results) if (r.status === 'rejected') failed.push(r.reason);
      if (failed.length > 0) throw failed[0];
    };
  }

  return {
    name: 'route53',
    submit,
    present: async (records, signal) => (await submit('present', records, signal))(signal),
    cleanUp: async (records, signal) => (await submit('cleanUp', records, signal))(signal),

    // The batch key of dns/batch.ts: records reached with one profile in one hosted zone share a change.
    async batchKey(fqdn, signal) {
      const profile = options.profile ?? chooseProfile(fqdn, await readProfileNames(sharedFiles));
      const zone = await findZone(apiFor(profile), profile ?? '', fqdn, signal);
      return `${profile ?? ''}\u0000${zone.id}`;
    },

    async close() {
      for (const api of clients.values()) api.destroy?.();
      clients.clear();
    },
  } satisfies DnsProvider;
}
