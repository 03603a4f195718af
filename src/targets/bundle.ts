import { readFile } from 'node:fs/promises';
import { WhisperError, errorMessage } from '../errors.js';
import { pemBlocks, parseStoredFile } from '../store/pem.js';
import type { CertBundle, StoredCert } from '../store/types.js';
import type { DeliveryItem } from './types.js';

/** A delivery item before the manager adds what the target delivered last (`previousSerial`). */
export type BundleItem = Omit<DeliveryItem, 'previousSerial'>;

/** The item of a certificate just written: what the store reported, with the bundle it was given. */
export function bundleItem(stored: StoredCert, bundle: CertBundle): BundleItem {
  return {
    id: stored.id,
    names: stored.names,
    serial: stored.serial,
    notBefore: stored.notBefore,
    notAfter: stored.notAfter,
    key: bundle.key,
    cert: stored.cert,
    chain: bundle.chain,
    path: stored.path,
  };
}

/**
 * The item of a certificate already in the folder, read back from its HAProxy PEM file (key, leaf, chain): for the
 * deliveries resumed at start and those of a follower. `undefined` when the file is gone; throws `STORE_READ` when it
 * cannot be read or holds no private key.
 */
export async function readBundleItem(id: string, file: string): Promise<BundleItem | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WhisperError('STORE_READ', `cannot read ${file}: ${errorMessage(err)}`, { cause: err, retryable: true });
  }
  const blocks = pemBlocks(text);
  const key = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!key) throw new WhisperError('STORE_READ', `${file} holds no private key`);
  const stored = parseStoredFile(id, file, text);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.pem);
  return {
    id,
    names: stored.names,
    serial: stored.serial,
    notBefore: stored.notBefore,
    notAfter: stored.notAfter,
    key: key.pem,
    cert: stored.cert,
    chain: certs.slice(1).join(''),
    path: file,
  };
}
