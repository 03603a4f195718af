import { X509Certificate, randomBytes } from 'node:crypto';
import { pemCertificates, withNewline } from '../store/pem.js';
import type { DeliveryItem } from './types.js';

/** One file the SFTP target writes for a certificate. */
export interface SftpFile {
  readonly name: string;
  /** Its content; the `.pem` and `.key` files hold the private key: never log it. */
  readonly data: Buffer;
}

/**
 * The files of certificate `<id>`, in the order they are put in place:
 * - `<id>.key`: the private key;
 * - `<id>.pem`: HAProxy's combined file, the same bytes as the folder's (key, leaf, chain);
 * - `<id>.crt`: the leaf and the chain ("fullchain", for nginx' `ssl_certificate`, Apache 2.4.8+, Postfix).
 *
 * `<id>.crt` goes last: holding the new serial, it says that the others are in place too.
 */
export function sftpFileNames(id: string): readonly [key: string, bundle: string, fullchain: string] {
  return [`${id}.key`, `${id}.pem`, `${id}.crt`];
}

/** The file whose serial says what is delivered: `<id>.crt` (it holds no key, so reading it back is harmless). */
export function markerFile(id: string): string {
  return `${id}.crt`;
}

/** Contents of {@link sftpFileNames} for an item. */
export function sftpFiles(item: DeliveryItem): SftpFile[] {
  const key = withNewline(item.key);
  const leaf = withNewline(item.cert);
  const chain = pemCertificates(item.chain).join('');
  const [keyName, bundleName, fullchainName] = sftpFileNames(item.id);
  return [
    { name: keyName, data: Buffer.from(key) },
    { name: bundleName, data: Buffer.from(key + leaf + chain) },
    { name: fullchainName, data: Buffer.from(leaf + chain) },
  ];
}

/** The temporary name a file is written under before it is renamed: `.<name>.tmp-<random>`. */
export function tempName(name: string): string {
  return `.${name}.tmp-${randomBytes(6).toString('hex')}`;
}

/** Whether `entry` is a temporary (or set-aside) file of one of `names`, left behind by an interrupted delivery. */
export function isLeftover(entry: string, names: readonly string[]): boolean {
  return names.some((n) => entry.startsWith(`.${n}.tmp-`) || entry.startsWith(`.${n}.old-`));
}

/** Serial (uppercase hex) of the first certificate of a PEM text, or undefined when there is none that parses. */
export function firstSerial(pem: string): string | undefined {
  const first = pemCertificates(pem)[0];
  if (first === undefined) return undefined;
  try {
    return new X509Certificate(first).serialNumber.toUpperCase();
  } catch {
    return undefined;
  }
}

/** Certificate ids become file names: refuse anything that could leave the folder. */
export function safeId(id: string): boolean {
  return id !== '' && !id.startsWith('.') && !/[/\\\0]/.test(id);
}
