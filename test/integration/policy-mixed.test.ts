import { describe, it, expect, inject } from 'vitest';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createZone, sans, verifyAgainstPebble } from '../support/certs.js';
import { daemonHarness } from '../support/harness.js';
import { eventually, fileOnce, registerService, deregisterService, uniq } from '../support/whisper.js';
import { http01World } from './http01-helpers.js';
import '../support/env-types.js';

const env = inject('env');
const h = daemonHarness(env, 'mix');

/** The public key of a HAProxy file's private key (SPKI DER, hex): the same after a renewal with `reuse_key`. */
const publicKeyOf = (pem: string): string => {
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/.exec(pem)![0];
  return createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'der' }).toString('hex');
};

describe('a config file: mixed DNS back ends, per-certificate keys, static domains, HTTP-01, reload', () => {
  it('issues everything through the back end and challenge each rule names, and follows a valid edit but not an invalid one', async () => {
    // Zone C: no DNS back end holds it; its names resolve to 127.0.0.1 and Pebble validates HTTP-01 at the responder.
    const world = await http01World(env, h.cleanups, 'mixh');
    const pebbleEnv = { ...env, pebble: { ...env.pebble, directoryUrl: world.pebble.directoryUrl, tlsCaFile: world.pebble.tlsCaFile, managementUrl: world.pebble.managementUrl } };
    const zoneA = `mixa${uniq()}.whisper.test`; // Route53 (moto)
    await createZone(env, zoneA);
    const zoneB = `mixb${uniq()}.${env.bind.zone}`; // BIND, through RFC 2136
    const zoneC = world.zone;
    const folder = join(world.base, 'certs');
    const secretFile = join(world.base, 'tsig.secret');
    await writeFile(secretFile, env.bind.tsig.secret, { mode: 0o600 });
    const configFile = join(world.base, 'whisper.yaml');
    const config = (pinnedExtra: string[]) => `# whisper-ts policy for the mixed test
dns:
  r53:
    provider: route53
    endpoint: ${env.route53.endpoint}
  bind:
    provider: rfc2136
    server: ${env.bind.addr}
    zone: ${env.bind.zone}
    tsig_name: ${env.bind.tsig.name}
    tsig_algorithm: ${env.bind.tsig.algorithm}
    tsig_secret_file: ${secretFile}
defaults:
  dns: r53
certificates:
  - label: bind-zone
    zone: ${zoneB}
    dns: bind
  - label: pinned-rsa
    name: pinned.${zoneA}
    key_type: rsa2048
    reuse_key: true
${pinnedExtra.length > 0 ? `    names: [${pinnedExtra.join(', ')}]\n` : ''}  - label: web-http
    zone: ${zoneC}
    challenge: http-01
domains:
  - static-a.${zoneA},static-b.${zoneA}
`;
    await writeFile(configFile, config([]));

    const w = h.daemon([folder, '--consul', env.consul.httpAddr, '--directory-url', world.pebble.directoryUrl, '--ca-bundle', world.pebble.tlsCaFile,
      '--dns-resolver', env.dnsFront.addr, '--config', configFile, '--http01-listen', `127.0.0.1:${world.httpPort}`,
      '--allow-domain', zoneA, '--allow-domain', zoneB, '--allow-domain', zoneC, '--notify', `whisper-tests/${zoneA}`]);
    const services = [['app', zoneA], ['pinned', zoneA], ['svc', zoneB], ['web', zoneC]] as const;
    const names = services.map(([s]) => `${s}-${uniq()}`);
    // Service names are the hostnames' first labels: `pinned` must be exactly that for its rule.
    const service = (i: number) => (services[i]![0] === 'pinned' ? 'pinned' : names[i]!);
    for (const [i, [, zone]] of services.entries()) {
      await registerService(env, service(i), [`dns=${zone}`, 'ssl=offloading']);
      h.cleanups.push(() => deregisterService(env, service(i)));
    }
    const file = (id: string) => eventually(`${id}.pem`, () => fileOnce(join(folder, `${id}.pem`)), 120_000);
    const app = await file(`${service(0)}.${zoneA}`);
    const pinned = await file(`pinned.${zoneA}`);
    const svc = await file(`${service(2)}.${zoneB}`);
    const web = await file(`${service(3)}.${zoneC}`);
    const statics = await file(`static-a.${zoneA}`);
    for (const pem of [app, pinned, svc, web, statics]) await verifyAgainstPebble(pebbleEnv, pem);
    expect(sans(await verifyAgainstPebble(pebbleEnv, statics))).toEqual([`static-a.${zoneA}`, `static-b.${zoneA}`]);
    // The pinned rule's key is RSA 2048; the others keep the default, ECDSA P-256.
    const pinnedKey = createPublicKey(createPrivateKey(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/.exec(pinned)![0]));
    expect(pinnedKey.asymmetricKeyType).toBe('rsa');
    expect(pinnedKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(createPublicKey(createPrivateKey(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/.exec(app)![0])).asymmetricKeyType).toBe('ec');
    // The HTTP-01 name was answered by the responder; the DNS ones by their back ends (BIND's zone is not in moto).
    await eventually('the responder served a token', () => (w.logs.some((l) => l.msg === 'HTTP-01 request' && l.found === true) ? true : undefined), 10_000);

    // A valid edit: the pinned rule gains a name. Its certificate is ordered again with the new name and the same key.
    await writeFile(configFile, config([`extra.${zoneA}`]));
    await eventually('the reload', () => (w.logs.some((l) => l.msg === 'config file reloaded') ? true : undefined), 20_000);
    const renewed = await eventually('the pinned certificate with its extra name', async () => {
      const pem = await fileOnce(join(folder, `pinned.${zoneA}.pem`));
      return pem && sans(await verifyAgainstPebble(pebbleEnv, pem)).includes(`extra.${zoneA}`) ? pem : undefined;
    }, 120_000);
    expect(publicKeyOf(renewed)).toBe(publicKeyOf(pinned));

    // An invalid edit is logged, naming the file and line, and the old file stays in force.
    await writeFile(configFile, `${config([`extra.${zoneA}`])}certificates_typo: [\n`);
    const invalid = await eventually('the invalid file reported', () => w.logs.find((l) => typeof l.msg === 'string' && l.msg.includes(configFile) && l.msg.includes('previous config file stays in force')), 20_000);
    expect(invalid.code).toBe('CONFIG_INVALID');
    const late = `late-${uniq()}`;
    await registerService(env, late, [`dns=${zoneB}`, 'ssl=offloading']);
    h.cleanups.push(() => deregisterService(env, late));
    // Still the BIND back end of the file in force: BIND holds zone B, Route53 does not.
    await verifyAgainstPebble(pebbleEnv, await file(`${late}.${zoneB}`));
    expect(await w.stop()).toBe(0);
    // Each back end journals its own challenge records (an emptied journal is deleted): none is left behind.
    for (const journal of ['.whisper-challenges.json', '.whisper-challenges-r53.json', '.whisper-challenges-bind.json']) {
      expect(await fileOnce(join(folder, journal)), journal).toBeUndefined();
    }
  }, 300_000);
});
