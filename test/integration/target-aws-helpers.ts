import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger } from '../../src/log.js';
import type { DeliveryContext, DeliveryItem, TargetMemo } from '../../src/targets/types.js';
import { binaries } from '../support/paths.js';
import type { Fault } from '../support/http-fault-proxy.js';

const run = promisify(execFile);

/** The AWS SDK's default chain reads these; moto accepts any. */
export function fakeAwsCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
  delete process.env.AWS_PROFILE;
}

/** A throwaway CA in a temporary folder that signs leaves with openssl. */
export interface TestCa {
  /** A leaf for `names` (first one the CN), with a fresh key and a random serial, as a target receives it. */
  leaf(id: string, names: readonly string[], keyType?: 'ec' | 'rsa'): Promise<DeliveryItem>;
  close(): Promise<void>;
}

/** Makes a {@link TestCa}. */
export async function testCa(): Promise<TestCa> {
  const o = binaries().openssl;
  const dir = await mkdtemp(join(tmpdir(), 'whisper-aws-ca-'));
  const caKey = join(dir, 'ca.key');
  const caPem = join(dir, 'ca.pem');
  await run(o, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
  await run(o, ['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '5', '-subj', '/CN=whisper-ts AWS test CA', '-out', caPem]);
  const chain = await readFile(caPem, 'utf8');
  let n = 0;
  return {
    async leaf(id, names, keyType = 'ec') {
      n += 1;
      const key = join(dir, `l${n}.key`);
      const csr = join(dir, `l${n}.csr`);
      const crt = join(dir, `l${n}.pem`);
      const ext = join(dir, `l${n}.ext`);
      if (keyType === 'ec') await run(o, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
      else await run(o, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
      await run(o, ['req', '-new', '-key', key, '-subj', `/CN=${names[0]}`, '-out', csr]);
      await writeFile(
        ext,
        `subjectAltName=${names.map((x) => `DNS:${x}`).join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`,
      );
      const serial = `0x7${randomBytes(15).toString('hex')}`;
      await run(o, ['x509', '-req', '-in', csr, '-CA', caPem, '-CAkey', caKey, '-set_serial', serial, '-days', '3', '-sha256', '-extfile', ext, '-out', crt]);
      const cert = await readFile(crt, 'utf8');
      const x = new X509Certificate(cert);
      const keyPem = await readFile(key, 'utf8');
      return {
        id,
        names: [...names].sort(),
        serial: x.serialNumber.toUpperCase(),
        notBefore: new Date(x.validFrom),
        notAfter: new Date(x.validTo),
        key: keyPem,
        cert,
        chain,
        path: join(dir, `${id}.pem`),
      };
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A delivery context with `memo` (a silent logger, the real clock). */
export function ctx(memo: TargetMemo = {}, now: () => number = Date.now): DeliveryContext {
  return { memo, log: silentLogger(), now };
}

/** A signal that never aborts. */
export const never = new AbortController().signal;

/** A unique lowercase tag for names in the shared moto server. */
export function uniq(): string {
  return randomBytes(4).toString('hex');
}

function motoAuth(service: string, region: string): string {
  return `AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

/** Two default subnets of moto's default VPC in `region` (EC2 through its query API: no EC2 client installed). */
export async function motoSubnets(endpoint: string, region: string): Promise<string[]> {
  const res = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: motoAuth('ec2', region) },
    body: 'Action=DescribeSubnets&Version=2016-11-15',
  });
  const text = await res.text();
  const ids = [...text.matchAll(/<subnetId>([^<]+)<\/subnetId>/g)].map((m) => m[1]!);
  if (ids.length < 2) throw new Error(`moto has no default subnets in ${region}: ${text.slice(0, 200)}`);
  return ids.slice(0, 2);
}

/** Creates a KMS key in moto (KMS through its JSON API: no KMS client installed); its ARN. */
export async function motoKmsKey(endpoint: string, region: string): Promise<string> {
  const res = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.CreateKey',
      authorization: motoAuth('kms', region),
    },
    body: JSON.stringify({ Description: 'whisper-ts test' }),
  });
  const out = (await res.json()) as { KeyMetadata?: { Arn?: string } };
  if (!out.KeyMetadata?.Arn) throw new Error('moto KMS CreateKey returned no ARN');
  return out.KeyMetadata.Arn;
}

/** Sets (or, with `undefined`, unsets) the state transition of a moto model, e.g. `cloudfront::distribution`. */
export async function motoTransition(endpoint: string, model: string, transition?: Record<string, unknown>): Promise<void> {
  const path = transition ? 'set-transition' : 'unset-transition';
  const res = await fetch(`${endpoint}/moto-api/state-manager/${path}`, {
    method: 'POST',
    body: JSON.stringify({ model_name: model, ...(transition ? { transition } : {}) }),
  });
  if (!res.ok) throw new Error(`moto ${path}: HTTP ${res.status}`);
}

/** AWS JSON-protocol throttling (ACM), HTTP 400. */
export function jsonThrottling(): Fault {
  return {
    status: 400,
    headers: { 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
  };
}

/** AWS query/REST-XML server fault (IAM, ELB, S3, CloudFront), HTTP 500. */
export function xmlServerError(): Fault {
  return {
    status: 500,
    headers: { 'content-type': 'text/xml' },
    body:
      '<?xml version="1.0"?>\n<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>' +
      '<Message>We encountered an internal error.</Message></Error><RequestId>r1</RequestId></ErrorResponse>',
  };
}

/** A fault for the next `n` requests, then none. */
export function faultTimes(n: number, fault: () => Fault): (method: string, path: string) => Fault | undefined {
  let left = n;
  return () => (left-- > 0 ? fault() : undefined);
}
