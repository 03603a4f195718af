import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { createRoute53Provider } from '../../src/dns/route53.js';
import { waitForPropagation } from '../../src/dns/propagation.js';
import { createCnameLookup, followCname } from '../../src/dns/cname.js';
import type { DnsProvider } from '../../src/dns/provider.js';
import { isWhisperError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { startRoute53Proxy } from '../support/route53-proxy.js';
import '../support/env-types.js';

const env = inject('env');
const zone = env.route53.zone;
const tag = randomBytes(4).toString('hex');

let dir: string;
let provider: DnsProvider;
let sdk: Route53Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whisper-r53-it-'));
  const credentialsFile = join(dir, 'credentials');
  // Profiles named after domains (whisper's convention) and no default: every name below has one.
  const profile = (name: string) => `[${name}]\naws_access_key_id = AKIDTEST\naws_secret_access_key = secret\n`;
  await writeFile(credentialsFile, profile(zone) + profile(`nowhere-${tag}.invalid`));
  provider = createRoute53Provider({
    endpoint: env.route53.endpoint,
    region: env.route53.region,
    credentialsFile,
    configFile: join(dir, 'config'),
    pollIntervalMs: 50,
  });
  sdk = new Route53Client({
    endpoint: env.route53.endpoint,
    region: env.route53.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

afterAll(async () => {
  await provider?.close?.();
  sdk?.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** The TXT values of `name` as Route53 holds them (unquoted by hand: this checks our quoting too). */
async function sdkTxt(name: string): Promise<string[]> {
  const res = await sdk.send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: env.route53.zoneId,
      StartRecordName: `${name}.`,
      StartRecordType: 'TXT',
      MaxItems: 1,
    }),
  );
  const set = res.ResourceRecordSets?.[0];
  if (set?.Name !== `${name}.` || set.Type !== 'TXT') return [];
  return (set.ResourceRecords ?? []).map((r) => r.Value ?? '').sort();
}

/** The TXT values of `name` as the DNS front serves them. */
async function dnsTxt(name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([env.dnsFront.addr]);
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).sort();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw err;
  }
}

describe('Route53 provider against moto', () => {
  it('presents two values for one name, reads them back, and cleans them up', async () => {
    const name = `_acme-challenge.multi-${tag}.${zone}`;
    const records = [
      { fqdn: name, value: `first-${tag}` },
      { fqdn: name, value: `second-${tag}` },
    ];
    await provider.present(records);
    expect(await sdkTxt(name)).toEqual([`"first-${tag}"`, `"second-${tag}"`]);
    expect(await dnsTxt(name)).toEqual([`first-${tag}`, `second-${tag}`]);
    await waitForPropagation(records, { servers: [env.dnsFront.addr], timeoutMs: 10_000 });

    await provider.cleanUp(records);
    expect(await sdkTxt(name)).toEqual([]);
    expect(await dnsTxt(name)).toEqual([]);
    // Cleaning up again is a no-op.
    await provider.cleanUp(records);
  });

  it('merges an apex and its wildcard, which share one _acme-challenge name', async () => {
    const name = `_acme-challenge.pair-${tag}.${zone}`;
    const apex = { fqdn: name, value: `apex-${tag}` };
    const wildcard = { fqdn: name, value: `wild-${tag}` };
    // Two separate orders, as the queue may run them.
    await provider.present([apex]);
    await provider.present([wildcard]);
    expect(await sdkTxt(name)).toEqual([`"apex-${tag}"`, `"wild-${tag}"`]);
    expect(await dnsTxt(name)).toEqual([`apex-${tag}`, `wild-${tag}`]);

    await provider.cleanUp([apex]);
    expect(await sdkTxt(name)).toEqual([`"wild-${tag}"`]);
    expect(await dnsTxt(name)).toEqual([`wild-${tag}`]);

    await provider.cleanUp([wildcard]);
    expect(await sdkTxt(name)).toEqual([]);
    expect(await dnsTxt(name)).toEqual([]);
  });

  it('writes a value longer than 255 characters as several strings', async () => {
    const name = `_acme-challenge.long-${tag}.${zone}`;
    const value = `${tag}${'x'.repeat(300)}`;
    await provider.present([{ fqdn: name, value }]);
    expect(await dnsTxt(name)).toEqual([value]);
    await provider.cleanUp([{ fqdn: name, value }]);
    expect(await dnsTxt(name)).toEqual([]);
  });

  it('reports a name outside every hosted zone as DNS_ZONE_NOT_FOUND', async () => {
    const err = await provider
      .present([{ fqdn: `_acme-challenge.www.nowhere-${tag}.invalid`, value: 'v' }])
      .catch((e: unknown) => e);
    expect(isWhisperError(err, 'DNS_ZONE_NOT_FOUND')).toBe(true);
  });

  it('follows a delegating CNAME through the DNS front', async () => {
    const from = `_acme-challenge.delegated-${tag}.${zone}`;
    const to = `validation-${tag}.${zone}`;
    await sdk.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: env.route53.zoneId,
        ChangeBatch: {
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: { Name: `${from}.`, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: `${to}.` }] },
            },
          ],
        },
      }),
    );
    const lookup = createCnameLookup({ servers: [env.dnsFront.addr] });
    expect(await followCname(from, lookup)).toBe(to);
    expect(await followCname(`_acme-challenge.plain-${tag}.${zone}`, lookup)).toBe(`_acme-challenge.plain-${tag}.${zone}`);
  });
});

describe('Route53 credentials from the shared config file', () => {
  it('uses `[profile <zone>]` of ~/.aws/config alone (no credentials file), not the default profile', async () => {
    const configFile = join(dir, 'config-only');
    // moto takes any key: the key on the wire tells which profile signed. The zone is written in upper case
    // (matched case-insensitively, passed to the SDK as written); [default] would sign with another key.
    await writeFile(
      configFile,
      '[default]\naws_access_key_id = AKIDDEFAULTPROFILE\naws_secret_access_key = d\n' +
        `[profile ${zone.toUpperCase()}]\naws_access_key_id = AKIDCONFIGPROFILE\naws_secret_access_key = c\n`,
    );
    const recorder = await startRoute53Proxy(env.route53.endpoint);
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const configOnly = createRoute53Provider({
      endpoint: recorder.url,
      region: env.route53.region,
      credentialsFile: join(dir, 'no-such-credentials'),
      configFile,
      pollIntervalMs: 50,
      log: createLogger({ debug: true, destination }),
    });
    try {
      const record = { fqdn: `_acme-challenge.config-${tag}.${zone}`, value: `config-${tag}` };
      await configOnly.present([record]);
      expect(await sdkTxt(record.fqdn)).toEqual([`"config-${tag}"`]);
      await configOnly.cleanUp([record]);
      expect(await sdkTxt(record.fqdn)).toEqual([]);
      expect(recorder.keys.length).toBeGreaterThan(0);
      expect(new Set(recorder.keys)).toEqual(new Set(['AKIDCONFIGPROFILE']));
      expect(lines.find((l) => l.msg === 'route53 zone')).toMatchObject({ profile: zone.toUpperCase(), zone });
    } finally {
      await configOnly.close?.();
      await recorder.close();
    }
  });
});
