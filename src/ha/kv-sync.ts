import { X509Certificate } from 'node:crypto';
import { errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi, KvItem } from '../consul/api.js';
import type { Sleep } from '../time.js';
import { isValidId } from '../store/ids.js';
import type { CertStore } from '../store/types.js';
import { splitCombined } from './kv-store.js';
import { kvCodec, type KvCodec } from './kv-crypto.js';

/** Options of {@link syncOnce} and {@link runKvSync}. */
export interface KvSyncOptions {
  readonly api: Required<Pick<ConsulApi, 'kvList'>>;
  /** KV prefix of the bundles. @default 'whisper/certs' */
  readonly prefix?: string;
  /** The local folder store: its atomic write validates each PEM. */
  readonly store: CertStore;
  readonly log: Logger;
  readonly sleep: Sleep;
  /** Longest wait of one blocking query. @default '5m' */
  readonly wait?: string;
  /** Decrypts each value (`--kv-encryption-key-file`). @default plaintext (an encrypted value is refused) */
  readonly codec?: KvCodec;
}

/** What one pass saw: the listing's index and every bundle by id (KV values as stored: maybe encrypted). */
export interface SyncPass {
  readonly index: number;
  readonly bundles: ReadonlyMap<string, string>;
  /** Ids written into the folder. */
  readonly written: readonly string[];
}

async function apply(options: KvSyncOptions, id: string, value: string): Promise<boolean> {
  const bundle = splitCombined(id, value);
  const leaf = new X509Certificate(bundle.cert);
  const local = await options.store.read(id).catch(() => undefined);
  if (local && local.serial === leaf.serialNumber.toUpperCase()) return false;
  // A folder that already holds a later certificate keeps it (the leader publishes it when it leads).
  if (local && local.notBefore.getTime() > new Date(leaf.validFrom).getTime()) return false;
  const stored = await options.store.write(id, bundle);
  options.log.info({ id, serial: stored.serial }, 'certificate copied from Consul KV');
  return true;
}

/** Writes every newer bundle of `items` into the folder; a bad entry is logged and skipped. */
export async function applyItems(options: KvSyncOptions, items: readonly KvItem[]): Promise<{ bundles: Map<string, string>; written: string[] }> {
  const prefix = `${options.prefix ?? 'whisper/certs'}/`;
  const codec = options.codec ?? kvCodec(undefined);
  const bundles = new Map<string, string>();
  const written: string[] = [];
  for (const item of items) {
    if (!item.key.startsWith(prefix)) continue;
    const id = item.key.slice(prefix.length);
    if (!isValidId(id)) {
      options.log.warn({ key: item.key }, 'Consul KV key under the certificate prefix is not a certificate id; ignored');
      continue;
    }
    bundles.set(id, item.value);
    try {
      if (await apply(options, id, codec.decode(item.key, item.value))) written.push(id);
    } catch (err) {
      options.log.warn({ key: item.key, code: isWhisperError(err) ? err.code : undefined, err: errorMessage(err) }, 'certificate in Consul KV not copied');
    }
  }
  return { bundles, written };
}

/** One pass: lists the prefix (at once, or blocking after `index`) and copies what changed into the folder. */
export async function syncOnce(options: KvSyncOptions, signal: AbortSignal, index = 0): Promise<SyncPass> {
  const listing = await options.api.kvList(`${options.prefix ?? 'whisper/certs'}/`, { index, wait: options.wait ?? '5m', signal });
  const { bundles, written } = await applyItems(options, listing.items);
  return { index: listing.index, bundles, written };
}

/** Follows the prefix with blocking queries until `signal` aborts, copying each new certificate into the folder. */
export async function runKvSync(options: KvSyncOptions, signal: AbortSignal): Promise<void> {
  let index = 0;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const pass = await syncOnce(options, signal, index);
      index = pass.index < index ? 0 : pass.index;
      failures = 0;
    } catch (err) {
      if (signal.aborted) return;
      failures++;
      // Consul may come back as another agent, whose index is below ours: re-read without blocking.
      index = 0;
      options.log.warn({ err: errorMessage(err) }, 'cannot read certificates from Consul KV; retrying');
      await options.sleep(Math.min(1000 * 2 ** failures, 30_000), signal).catch(() => undefined);
    }
  }
}
