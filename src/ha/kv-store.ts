import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi } from '../consul/api.js';
import type { Sleep } from '../time.js';
import { pemBlocks, withNewline } from '../store/pem.js';
import type { CertBundle, CertStore, StoredCert } from '../store/types.js';
import { kvCodec, type KvCodec } from './kv-crypto.js';

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

/** Throws `STORE_WRITE` naming `what` (e.g. `the state (Consul KV key <key>)`) when `value` is over Consul's KV limit. */
export function assertKvValueSize(what: string, value: string): void {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > CONSUL_KV_MAX_BYTES) throw new WhisperError('STORE_WRITE', `${what} is ${bytes} bytes, over Consul's KV limit of ${CONSUL_KV_MAX_BYTES} bytes; not stored`);
}

/** Throws `STORE_WRITE` when the KV value of certificate `id` cannot be stored in Consul KV. */
export function assertKvSize(id: string, value: string): void {
  assertKvValueSize(`certificate ${id}`, value);
}

/** Options of {@link createKvMirrorStore} and {@link publishFolder}. */
export interface KvMirrorOptions {
  /** `kvDelete` is needed by `remove` only. */
  readonly api: Pick<ConsulApi, 'kvSet' | 'kvDelete'>;
  /** KV prefix of the bundles. @default 'whisper/certs' */
  readonly prefix?: string;
  readonly log: Logger;
  readonly sleep: Sleep;
  /** Attempts of each KV write. @default 4 */
  readonly attempts?: number;
  /** Encrypts each value (`--kv-encryption-key-file`). @default plaintext */
  readonly codec?: KvCodec;
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
 *
 * `remove` deletes the KV copy first, then the files: followers remove their copy when they see it gone (see
 * `runKvSync`), and a KV copy left behind would be copied back into a new leader's folder. A failed delete throws
 * (retryable) and leaves the files, so the next sweep tries both again.
 */
export function createKvMirrorStore(inner: CertStore, options: KvMirrorOptions): CertStore {
  const prefix = options.prefix ?? 'whisper/certs';
  const codec = options.codec ?? kvCodec(undefined);
  const removeFiles = inner.remove?.bind(inner);
  return {
    read: (id) => inner.read(id),
    ...(inner.readKey ? { readKey: (id: string) => inner.readKey!(id) } : {}),
    list: (onProblem) => inner.list(onProblem),
    readAccount: () => inner.readAccount(),
    writeAccount: (account) => inner.writeAccount(account),
    ...(inner.checkWritable ? { checkWritable: () => inner.checkWritable!() } : {}),
    async write(id, bundle) {
      const key = `${prefix}/${id}`;
      const value = codec.encode(key, combinedPem(bundle));
      assertKvSize(id, value);
      const stored = await inner.write(id, bundle);
      if (await putWithRetry(options, key, value)) options.log.debug({ id, serial: stored.serial }, 'certificate copied to Consul KV');
      return stored;
    },
    ...(removeFiles ? { remove: (id: string) => removeBoth(removeFiles, options, `${prefix}/${id}`, id) } : {}),
  } satisfies CertStore;
}

async function removeBoth(removeFiles: (id: string) => Promise<void>, options: KvMirrorOptions, key: string, id: string): Promise<void> {
  const kvDelete = options.api.kvDelete;
  if (kvDelete === undefined) throw new WhisperError('STORE_WRITE', `cannot remove ${id}: this Consul client cannot delete KV keys`);
  try {
    await kvDelete.call(options.api, key);
  } catch (err) {
    throw new WhisperError('STORE_WRITE', `cannot delete Consul KV key ${key}: ${errorMessage(err)}; the files of ${id} are kept until it is`, { retryable: true, cause: err });
  }
  options.log.debug({ id, key }, 'certificate deleted from Consul KV');
  await removeFiles(id);
}

/**
 * Puts every certificate of the folder that KV lacks or holds an older one of (a new leader's first step), and
 * rewrites with the current key the KV values of the same certificates that are not (plaintext, or an older key id).
 */
export async function publishFolder(store: CertStore, kv: ReadonlyMap<string, string>, options: KvMirrorOptions, signal?: AbortSignal): Promise<number> {
  const prefix = options.prefix ?? 'whisper/certs';
  const codec = options.codec ?? kvCodec(undefined);
  let published = 0;
  for (const local of await store.list()) {
    const key = `${prefix}/${local.id}`;
    const remote = kv.get(local.id);
    if (remote !== undefined) {
      let plain: string | undefined;
      try {
        plain = codec.decode(key, remote);
      } catch (err) {
        options.log.warn({ key, code: isWhisperError(err) ? err.code : undefined, err: errorMessage(err) }, 'certificate in Consul KV unreadable; replaced by the folder\'s');
      }
      if (plain !== undefined && !isNewer(local, plain) && (codec.isCurrent(remote) || !sameSerial(local, plain))) continue;
    }
    let value: string;
    try {
      value = codec.encode(key, await readFile(local.path, 'utf8'));
      assertKvSize(local.id, value);
    } catch (err) {
      options.log.error({ id: local.id }, errorMessage(err));
      continue;
    }
    if (await putWithRetry(options, key, value, signal)) published++;
  }
  return published;
}

function sameSerial(local: StoredCert, remote: string): boolean {
  try {
    return new X509Certificate(splitCombined(local.id, remote).cert).serialNumber.toUpperCase() === local.serial;
  } catch {
    return false;
  }
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
