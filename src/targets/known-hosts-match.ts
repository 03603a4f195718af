import { createHmac } from 'node:crypto';
import type { HostKeyType, KnownHosts, KnownHostsEntry } from './known-hosts.js';

/**
 * The name a known_hosts file knows a server by, as `ssh` looks it up: the lowercase host on port 22,
 * `[host]:port` on any other port (an IPv6 address without its URL brackets: `[::1]:2222`).
 */
export function knownHostsName(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return port === 22 ? bare : `[${bare}]:${port}`;
}

/** `|1|<salt>|<hash>`: HMAC-SHA1 of the name keyed with the salt (`HashKnownHosts yes`, `ssh-keygen -H`). */
function hashedMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] ?? '', 'base64');
  const hash = Buffer.from(parts[3] ?? '', 'base64');
  if (salt.length === 0 || hash.length !== 20) return false;
  return createHmac('sha1', salt).update(name).digest().equals(hash);
}

/** OpenSSH's `*` (any run of characters) and `?` (one character) patterns, case-insensitive. */
function wildcardMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name;
  const source = pattern
    .toLowerCase()
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(name);
}

/**
 * Whether a known_hosts line applies to `name` (from {@link knownHostsName}): one of its patterns matches and none
 * of its negated (`!pattern`) ones does.
 */
export function entryMatches(entry: KnownHostsEntry, name: string): boolean {
  let matched = false;
  for (const pattern of entry.patterns) {
    if (pattern.startsWith('!')) {
      if (wildcardMatches(pattern.slice(1), name)) return false;
    } else if (pattern.startsWith('|')) {
      matched ||= hashedMatches(pattern, name);
    } else {
      matched ||= wildcardMatches(pattern, name);
    }
  }
  return matched;
}

/** What the pinned keys say of the key a server presented. */
export type HostKeyVerdict =
  | { readonly accepted: true; /** The line that pins it. */ readonly line: number }
  | {
      readonly accepted: false;
      /**
       * `revoked`: an `@revoked` line holds the key; `unknown-host`: no line names the server; `mismatch`: lines name
       * it with other keys.
       */
      readonly reason: 'revoked' | 'unknown-host' | 'mismatch';
      /** The `@revoked` line, or the first line pinning another key. */
      readonly line?: number;
    };

/**
 * Checks the key a server presented (SSH wire format) against a known_hosts file, as `ssh` does with
 * `StrictHostKeyChecking yes`: accepted only when a line for this host and port holds exactly this key, and no
 * `@revoked` line holds it (for any host). There is no fallback: an unknown host is refused.
 */
export function checkHostKey(known: KnownHosts, host: string, port: number, key: Buffer): HostKeyVerdict {
  const revoked = known.entries.find((e) => e.revoked && e.blob.equals(key));
  if (revoked) return { accepted: false, reason: 'revoked', line: revoked.line };
  const name = knownHostsName(host, port);
  const pinned = known.entries.filter((e) => !e.revoked && entryMatches(e, name));
  const match = pinned.find((e) => e.blob.equals(key));
  if (match) return { accepted: true, line: match.line };
  if (pinned.length === 0) return { accepted: false, reason: 'unknown-host' };
  return { accepted: false, reason: 'mismatch', line: pinned[0]?.line };
}

/** The key types pinned for a host and port, in the file's order, without repeats. */
export function pinnedKeyTypes(known: KnownHosts, host: string, port: number): HostKeyType[] {
  const name = knownHostsName(host, port);
  const types = known.entries.filter((e) => !e.revoked && entryMatches(e, name)).map((e) => e.type);
  return [...new Set(types)];
}
