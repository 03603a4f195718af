import { X509Certificate } from 'node:crypto';
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import type { TestEnv } from './env-types.js';
import { pebbleRoot } from './pebble.js';

/** The PEM blocks of a combined file, by kind. */
export function splitPem(pem: string): { keys: string[]; certs: X509Certificate[] } {
  const blocks = pem.match(/-----BEGIN [^-]+-----[\s\S]+?-----END [^-]+-----/g) ?? [];
  return {
    keys: blocks.filter((b) => /PRIVATE KEY/.test(b)),
    certs: blocks.filter((b) => /BEGIN CERTIFICATE/.test(b)).map((b) => new X509Certificate(b)),
  };
}

/** Checks a HAProxy file: one key first, the leaf matching it, the chain up to Pebble's current root. */
export async function verifyAgainstPebble(env: TestEnv, pem: string): Promise<X509Certificate> {
  const { keys, certs } = splitPem(pem);
  if (keys.length !== 1 || !pem.trimStart().startsWith('-----BEGIN PRIVATE KEY-----') && !/^-----BEGIN (EC|RSA) PRIVATE KEY/.test(pem.trimStart())) {
    throw new Error('the file must start with exactly one private key');
  }
  const root = new X509Certificate(await pebbleRoot(env.pebble));
  const chain = [...certs, root];
  for (let i = 0; i + 1 < chain.length; i++) {
    const [child, parent] = [chain[i]!, chain[i + 1]!];
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new Error(`certificate ${i} (${child.subject}) is not signed by ${parent.subject}`);
    }
  }
  const leaf = certs[0]!;
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const pub = createPublicKey(createPrivateKey(keys[0]!)).export({ type: 'spki', format: 'der' });
  if (!pub.equals(leaf.publicKey.export({ type: 'spki', format: 'der' }))) throw new Error('key does not match the leaf');
  return leaf;
}

/** DNS names of a certificate, sorted. */
export function sans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)).sort();
}

function r53(env: TestEnv): Route53Client {
  return new Route53Client({ endpoint: env.route53.endpoint, region: env.route53.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

/** Creates a hosted zone in the emulator; returns its id. */
export async function createZone(env: TestEnv, name: string): Promise<string> {
  const client = r53(env);
  try {
    const out = await client.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}` }));
    return out.HostedZone!.Id!.replace('/hostedzone/', '');
  } finally {
    client.destroy();
  }
}

/** Every TXT record set of a zone, as `name -> values`. */
export async function zoneTxt(env: TestEnv, zoneId: string): Promise<Map<string, string[]>> {
  const client = r53(env);
  try {
    const out = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    const map = new Map<string, string[]>();
    for (const set of out.ResourceRecordSets ?? []) {
      if (set.Type === 'TXT') map.set(set.Name!.replace(/\.$/, ''), (set.ResourceRecords ?? []).map((r) => r.Value!));
    }
    return map;
  } finally {
    client.destroy();
  }
}
