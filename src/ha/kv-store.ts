import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import type { Sleep } from '../time.js';
import { pemBlocks, withNewline } from '../store/pem.js';
import type { CertBundle, CertStore, StoredCert } from '../store/types.js';

/** Consul's limit on one KV value. */
export const CONSUL_KV_MAX_BYTES = 512 * 1024;

/** HAProxy's combined PEM of a bundle: key, leaf, chain. */
export function combinedPem(bundle: CertBundle): string {
  return withNewline(bundle.key) + withNewline(bundle.cert) + (bundle.chain.trim() ? withNewline(bundle.chain) : '');
}

/** The bundle of a combined PEM (the first private key, the first certificate, the other certificates). */
export function splitCombined(id: string, text: string): CertBundle {
  const blocks = pemBlocks(text);
  const key = blocks.find((b) => b.label.endsWith('PRIVATE KEY'))?.pem;
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.pem);
  if (!key || certs.length === 0) throw new WhisperError('STORE_CORRUPT', `Consul KV entry of ${id} is not a combined PEM (key and certificate)`);
  return { key, cert: certs[0]!, chain: certs.slice(1).join('') };
}

/** Throws `STORE_WRITE` when `value` cannot be stored in Consul KV. */
export function assertKvSize(id: string, value: string): void {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > CONSUL_KV_MAX_BYTES) {
    throw new WhisperError('STORE_WRITE', `certificate ${id} is ${bytes} bytes of PEM, over Consul's KV limit of ${CONSUL_KV_MAX_BYTES} bytes; not stored`);
  }
}

/** Options of {@link createKvMirrorStore} and {@link publishFolder}. */
export interface KvMirrorOptions {
  readonly api: Pick<ConsulApi, 'kvSet'>;
  /** KV prefix of the bundles. @default 'whisper/certs' */
  readonly prefix?: string;
  readonly log: Logger;
  readonly sleep: Sleep;
  /** Attempts of each KV write. @default 4 */
  readonly attempts?: number;
}

async function putWithRetry(options: KvMirrorOptions, key: string, value: string, signal?: AbortSignal): Promise<boolean> {
  const attempts = options.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      await options.api.kvSet(key, value, signal);
      return true;
    } catch (err) {
      if (attempt >= attempts || signal?.aborted) {
        options.log.error({ key, err: errorMessage(err) }, 'certificate not copied to Consul KV; followers get it with the next leader');
        return false;
      }
      await options.sleep(1000 * 2 ** (attempt - 1), signal).catch(() => undefined);
    }
  }
}

/**
 * A {@link CertStore} that writes to `inner` (the folder) and then puts the combined PEM in Consul KV under
 * `<prefix>/<id>`, where followers copy it from. A KV failure is logged, not thrown: the certificate is valid and
 * on disk, and ordering it again would waste the CA's rate limits.
 */
export function createKvMirrorStore(inner: CertStore, options: KvMirrorOptions): CertStore {
  const prefix = options.prefix ?? 'whisper/certs';
  return {
    read: (id) => inner.read(id),
    list: (onProblem) => inner.list(onProblem),
    readAccount: () => inner.readAccount(),
    writeAccount: (account) => inner.writeAccount(account),
    ...(inner.checkWritable ? { checkWritable: () => inner.checkWritable!() } : {}),
    async write(id, bundle) {
      const value = combinedPem(bundle);
      assertKvSize(id, value);
      const stored = await inner.write(id, bundle);
      if (await putWithRetry(options, `${prefix}/${id}`, value)) options.log.debug({ id, serial: stored.serial }, 'certificate copied to Consul KV');
      return stored;
    },
  } satisfies CertStore;
}

/** Puts every certificate of the folder that KV lacks or holds an older one of (a new leader's first step). */
export async function publishFolder(store: CertStore, kv: ReadonlyMap<string, string>, options: KvMirrorOptions, signal?: AbortSignal): Promise<number> {
  const prefix = options.prefix ?? 'whisper/certs';
  let published = 0;
  for (const local of await store.list()) {
    const remote = kv.get(local.id);
    if (remote !== undefined && !isNewer(local, remote)) continue;
    const value = await readFile(local.path, 'utf8');
    try {
      assertKvSize(local.id, value);
    } catch (err) {
      options.log.error({ id: local.id }, errorMessage(err));
      continue;
    }
    if (await putWithRetry(options, `${prefix}/${local.id}`, value, signal)) published++;
  }
  return published;
}

/** Whether the stored certificate was issued after the one of the combined PEM `remote` (or that one is unreadable). */
export function isNewer(local: StoredCert, remote: string): boolean {
  try {
    const leaf = new X509Certificate(splitCombined(local.id, remote).cert);
    if (leaf.serialNumber.toUpperCase() === local.serial) return false;
    return local.notBefore.getTime() > new Date(leaf.validFrom).getTime();
  } catch {
    return true;
  }
}
