import { createHash } from 'node:crypto';

/** Host key types a known_hosts file may pin for the SFTP target (what ssh2 verifies, DSA aside). */
export const HOST_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

/** One of {@link HOST_KEY_TYPES}. */
export type HostKeyType = (typeof HOST_KEY_TYPES)[number];

/** A usable line of a known_hosts file. */
export interface KnownHostsEntry {
  /** 1-based line number, for messages. */
  readonly line: number;
  /** `@revoked`: the key must never be accepted, for any host. */
  readonly revoked: boolean;
  /** The host patterns of the line, split on commas (`host`, `[host]:port`, `*.example.com`, `!bad`, `|1|salt|hash`). */
  readonly patterns: readonly string[];
  readonly type: HostKeyType;
  /** The public key in SSH wire format: what the server sends and what ssh2's `hostVerifier` receives. */
  readonly blob: Buffer;
}

/** A line that was not used, and why (unknown key type, `@cert-authority`, malformed). */
export interface SkippedLine {
  readonly line: number;
  readonly reason: string;
}

/** A parsed known_hosts file. */
export interface KnownHosts {
  readonly entries: readonly KnownHostsEntry[];
  readonly skipped: readonly SkippedLine[];
}

/** The first length-prefixed string of an SSH wire-format key blob: its key type, or undefined. */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint of a public key blob: `SHA256:` and unpadded base64, as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function isHostKeyType(type: string): type is HostKeyType {
  return (HOST_KEY_TYPES as readonly string[]).includes(type);
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseLine(text: string, line: number): KnownHostsEntry | SkippedLine | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const fields = trimmed.split(/\s+/);
  let revoked = false;
  if (fields[0]?.startsWith('@')) {
    const marker = fields.shift();
    if (marker === '@cert-authority') return { line, reason: '@cert-authority lines are not supported' };
    if (marker !== '@revoked') return { line, reason: `unknown marker ${marker}` };
    revoked = true;
  }
  const [hosts, type, base64] = fields;
  if (hosts === undefined || type === undefined || base64 === undefined) return { line, reason: 'not a known_hosts line' };
  if (!isHostKeyType(type)) return { line, reason: `key type ${type} is not supported` };
  if (!BASE64.test(base64)) return { line, reason: 'the key is not base64' };
  const blob = Buffer.from(base64, 'base64');
  if (blobKeyType(blob) !== type) return { line, reason: `the key is not a ${type} key` };
  const patterns = hosts.split(',').filter((p) => p !== '');
  if (patterns.length === 0) return { line, reason: 'no host pattern' };
  return { line, revoked, patterns, type, blob };
}

/**
 * Parses a known_hosts file in OpenSSH's format (`sshd(8)`, SSH_KNOWN_HOSTS FILE FORMAT): comments, plain and
 * hashed host names, `[host]:port`, comma lists, wildcards and negations, `@revoked` lines. Lines it cannot use
 * (`@cert-authority`, DSA or security-key types, malformed) are reported in `skipped`, never guessed at.
 */
export function parseKnownHosts(text: string): KnownHosts {
  const entries: KnownHostsEntry[] = [];
  const skipped: SkippedLine[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const parsed = parseLine(raw, i + 1);
    if (parsed === undefined) continue;
    if ('reason' in parsed) skipped.push(parsed);
    else entries.push(parsed);
  }
  return { entries, skipped };
}
