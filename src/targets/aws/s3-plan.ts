import type { DeliveryItem } from '../types.js';

/** One object an `s3://` target writes per certificate. */
export interface S3Object {
  readonly key: string;
  readonly body: string;
  /** Holds the private key. */
  readonly secret: boolean;
}

/** The object names of a certificate under a prefix (`''` or `certs/prod`, no slashes at the ends). */
export function s3ObjectKeys(prefix: string, id: string) {
  const base = prefix === '' ? `${id}/` : `${prefix}/${id}/`;
  return {
    privkey: `${base}privkey.pem`,
    cert: `${base}cert.pem`,
    chain: `${base}chain.pem`,
    fullchain: `${base}fullchain.pem`,
    /** HAProxy's combined PEM (key, leaf, chain), the folder's file: written last, it marks a complete delivery. */
    bundle: `${base}${id}.pem`,
  } as const;
}

function nl(pem: string): string {
  return pem === '' || pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** The objects of `item`, in writing order: the HAProxy bundle last. */
export function s3Objects(prefix: string, item: DeliveryItem): S3Object[] {
  const k = s3ObjectKeys(prefix, item.id);
  const key = nl(item.key);
  const cert = nl(item.cert);
  const chain = nl(item.chain);
  return [
    { key: k.privkey, body: key, secret: true },
    { key: k.cert, body: cert, secret: false },
    { key: k.chain, body: chain, secret: false },
    { key: k.fullchain, body: cert + chain, secret: false },
    { key: k.bundle, body: key + cert + chain, secret: true },
  ];
}

/** The server-side encryption headers of every object: SSE-KMS with `kmsKey`, else AES256. */
export function s3Encryption(kmsKey: string | undefined) {
  return kmsKey
    ? ({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKey } as const)
    : ({ ServerSideEncryption: 'AES256' } as const);
}

/**
 * Whether the bundle object as HeadObject saw it is this delivery already: same serial in its metadata and the
 * encryption asked for (a changed `--s3-kms-key` rewrites the objects).
 */
export function s3UpToDate(
  head: { serial?: string; sse?: string; kmsKeyId?: string } | undefined,
  serial: string,
  kmsKey: string | undefined,
): boolean {
  if (!head || head.serial !== serial) return false;
  if (!kmsKey) return head.sse === 'AES256';
  // S3 reports the key's ARN; the option may name it by id.
  const id = head.kmsKeyId;
  return head.sse === 'aws:kms' && id !== undefined && (id === kmsKey || id.endsWith(`/${kmsKey}`));
}
