import { X509Certificate } from 'node:crypto';
import { errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulApi, KvItem } from '../consul/api.js';
import type { Sleep } from '../time.js';
import { superseded, type SupersedeFile } from '../lifecycle/supersede.js';
import { isValidId } from '../store/ids.js';
import { dnsNames } from '../store/pem.js';
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

/** The leaf of a KV bundle: its serial (uppercase hex) and names. */
export interface KvLeaf {
  readonly serial: string;
  readonly names: readonly string[];
}

/** What one pass saw: the listing's index and every bundle by id (KV values as stored: maybe encrypted). */
export interface SyncPass {
  readonly index: number;
  readonly bundles: ReadonlyMap<string, string>;
  /** The leaf of every bundle that could be read, by id. */
  readonly leaves: ReadonlyMap<string, KvLeaf>;
  /** Ids written into the folder. */
  readonly written: readonly string[];
}

async function apply(options: KvSyncOptions, id: string, bundle: ReturnType<typeof splitCombined>, leaf: X509Certificate): Promise<boolean> {
  const local = await options.store.read(id).catch(() => undefined);
  if (local && local.serial === leaf.serialNumber.toUpperCase()) return false;
  // A folder that already holds a later certificate keeps it (the leader publishes it when it leads).
  if (local && local.notBefore.getTime() > new Date(leaf.validFrom).getTime()) return false;
  const stored = await options.store.write(id, bundle);
  options.log.info({ id, serial: stored.serial }, 'certificate copied from Consul KV');
  return true;
}

/** Writes every newer bundle of `items` into the folder; a bad entry is logged and skipped. */
export async function applyItems(
  options: KvSyncOptions,
  items: readonly KvItem[],
): Promise<{ bundles: Map<string, string>; leaves: Map<string, KvLeaf>; written: string[] }> {
  const prefix = `${options.prefix ?? 'whisper/certs'}/`;
  const codec = options.codec ?? kvCodec(undefined);
  const bundles = new Map<string, string>();
  const leaves = new Map<string, KvLeaf>();
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
      const bundle = splitCombined(id, codec.decode(item.key, item.value));
      const leaf = new X509Certificate(bundle.cert);
      leaves.set(id, { serial: leaf.serialNumber.toUpperCase(), names: dnsNames(leaf) });
      if (await apply(options, id, bundle, leaf)) written.push(id);
    } catch (err) {
      options.log.warn({ key: item.key, code: isWhisperError(err) ? err.code : undefined, err: errorMessage(err) }, 'certificate in Consul KV not copied');
    }
  }
  return { bundles, leaves, written };
}

/** One pass: lists the prefix (at once, or blocking after `index`) and copies what changed into the folder. */
export async function syncOnce(options: KvSyncOptions, signal: AbortSignal, index = 0): Promise<SyncPass> {
  const listing = await options.api.kvList(`${options.prefix ?? 'whisper/certs'}/`, { index, wait: options.wait ?? '5m', signal });
  const { bundles, leaves, written } = await applyItems(options, listing.items);
  return { index: listing.index, bundles, leaves, written };
}

/**
 * A follower's side of a leader's removal of a superseded certificate (see `createKvMirrorStore`): `retiring` holds
 * the ids whose KV copy went away, with the serial of the copy this follower last saw. Each one's local file is
 * removed by the same rule as the leader's (`superseded`, the KV certificates standing for the plan): only while it
 * is still that copy (a file put there by hand is never removed), and only once every name of it that a KV
 * certificate holds is in a local file of a KV certificate, so no name is lost while a copy is late. An id that
 * comes back to KV, whose file is gone or is not that copy, is dropped from `retiring`; one not covered yet stays.
 */
export async function removeRetired(options: KvSyncOptions, pass: SyncPass, retiring: Map<string, string>): Promise<string[]> {
  for (const id of pass.leaves.keys()) retiring.delete(id);
  const removeFile = options.store.remove?.bind(options.store);
  if (retiring.size === 0 || removeFile === undefined) return [];
  const read = (id: string) => options.store.read(id).catch(() => undefined);
  const present: SupersedeFile[] = [];
  for (const [id, serial] of retiring) {
    const local = await read(id);
    if (local === undefined || local.serial !== serial) retiring.delete(id);
    else present.push({ id, names: local.names, ours: true });
  }
  if (present.length === 0) return [];
  const wanted = [...pass.leaves].map(([id, leaf]) => ({ id, names: leaf.names }));
  const names = new Set(present.flatMap((f) => f.names));
  for (const w of wanted) {
    if (!w.names.some((n) => names.has(n))) continue;
    const local = await read(w.id);
    if (local !== undefined) present.push({ id: w.id, names: local.names, ours: false });
  }
  const removed: string[] = [];
  for (const { id, by } of superseded({ wanted, present }).remove) {
    try {
      await removeFile(id);
      retiring.delete(id);
      removed.push(id);
      options.log.info({ id, by }, `certificate removed, as the leader removed it from Consul KV: ${by.map((b) => `${b}.pem`).join(', ')} replaces it`);
    } catch (err) {
      options.log.warn({ id, code: isWhisperError(err) ? err.code : undefined, err: errorMessage(err) }, 'superseded certificate not removed; retrying after the next change in Consul KV');
    }
  }
  return removed;
}

/** Follows the prefix with blocking queries until `signal` aborts, copying each new certificate into the folder. */
export async function runKvSync(options: KvSyncOptions, signal: AbortSignal): Promise<void> {
  let index = 0;
  let failures = 0;
  /** The KV copies of the last pass (id → serial), and those that went away since (see {@link removeRetired}). */
  let last = new Map<string, string>();
  const retiring = new Map<string, string>();
  while (!signal.aborted) {
    try {
      const pass = await syncOnce(options, signal, index);
      index = pass.index < index ? 0 : pass.index;
      failures = 0;
      for (const [id, serial] of last) if (!pass.bundles.has(id)) retiring.set(id, serial);
      last = new Map([...pass.leaves].map(([id, leaf]) => [id, leaf.serial]));
      await removeRetired(options, pass, retiring);
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
