import { WhisperError } from '../errors.js';

// One hostname label: lowercase letters, digits and inner hyphens (punycode `xn--` included).
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const ID_PATTERN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
// A file name may hold 255 bytes; the id gets a `.pem` (or `.p12`) suffix.
const MAX_ID_LENGTH = 251;

/** Whether `id` (or a hostname) starts with the label of a zone's multi-host certificate: `multi-hosts.` or `multi-hosts-<n>.`. */
export function isMultiHostId(id: string): boolean {
  return /^multi-hosts(?:-[0-9]+)?\./.test(id);
}

/** True when `id` is safe as a certificate file base name (see {@link assertValidId}). */
export function isValidId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id);
}

/**
 * Refuse an id that is not a lowercase hostname (or `multi-hosts.<zone>`): no path separators,
 * no `..`, no leading dot, no upper case. Runs before any file name is built from it.
 */
export function assertValidId(id: string): void {
  if (!isValidId(id)) {
    throw new WhisperError('HOSTNAME_INVALID', `certificate id ${JSON.stringify(id.slice(0, 300))} is not a valid file name`);
  }
}
