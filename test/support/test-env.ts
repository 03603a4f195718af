import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { startConsul } from './consul.js';
import { startPebble, startChallTestSrv } from './pebble.js';
import { startMoto } from './moto.js';
import { startBind } from './bind.js';
import { startDnsFront, createMotoSource } from './dns-front.js';
import { RUN_MARKER } from './proc.js';
import type { TestEnv } from './env-types.js';

/** The started environment and how to stop it. */
export interface RunningEnv {
  readonly env: TestEnv;
  stop(): Promise<void>;
}

/** The Route53 zone created at start for tests to use. */
export const ROUTE53_TEST_ZONE = 'r53.whisper.test';

/**
 * Starts Consul, pebble-challtestsrv, BIND, moto with its DNS front, and Pebble (validating through the DNS front),
 * each on free ports of 127.0.0.1. If any start fails, everything already started is stopped.
 */
export async function startTestEnv(): Promise<RunningEnv> {
  process.env[RUN_MARKER] ??= `adhoc-${process.pid}-${randomBytes(3).toString('hex')}`;
  const runDir = await mkdtemp(join(tmpdir(), 'whisper-ts-run-'));
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(err));
    stops.length = 0;
    if (!process.env.WHISPER_TS_KEEP_RUN_DIR) await rm(runDir, { recursive: true, force: true });
  };
  try {
    const [consul, chall, bind, moto] = await Promise.all([
      startConsul({ dir: runDir, node: 'whisper-test' }).then((c) => (stops.push(c.stop), c)),
      startChallTestSrv(runDir).then((c) => (stops.push(c.stop), c)),
      startBind(runDir).then((b) => (stops.push(b.stop), b)),
      startMoto(runDir).then((m) => (stops.push(m.stop), m)),
    ]);
    const region = 'us-east-1';
    const r53 = new Route53Client({
      endpoint: moto.endpoint,
      region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const created = await r53.send(
      new CreateHostedZoneCommand({ Name: ROUTE53_TEST_ZONE, CallerReference: `whisper-test-${Date.now()}` }),
    );
    r53.destroy();
    const zoneId = created.HostedZone?.Id?.replace('/hostedzone/', '') ?? '';
    const front = await startDnsFront({
      source: createMotoSource({ endpoint: moto.endpoint, region }),
      forward: [{ zone: bind.zone, server: bind.addr }],
      defaultForward: chall.dnsAddr,
    });
    stops.push(() => front.close());
    const pebble = await startPebble({ dir: runDir, dnsServer: front.addr });
    stops.push(pebble.stop);
    const env: TestEnv = {
      runDir,
      consul: { httpAddr: consul.httpAddr, serfLanAddr: consul.serfLanAddr },
      pebble: { directoryUrl: pebble.directoryUrl, managementUrl: pebble.managementUrl, tlsCaFile: pebble.tlsCaFile },
      challtestsrv: { managementUrl: chall.managementUrl, dnsAddr: chall.dnsAddr },
      route53: { endpoint: moto.endpoint, region, zone: ROUTE53_TEST_ZONE, zoneId },
      dnsFront: { addr: front.addr },
      bind: { addr: bind.addr, zone: bind.zone, tsig: bind.tsig },
    };
    return { env, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
