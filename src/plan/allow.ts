import { WhisperError, isWhisperError } from '../errors.js';
import { normalizeHostname } from './hostname.js';
import { quote } from './quote.js';

/** One parsed allow-list entry. */
export interface AllowRule {
  /** The normalized domain (lowercase punycode, no trailing dot, no leading `*.` or `.`). */
  readonly domain: string;
  /** Whether `domain` itself is allowed (`example.com`), or only names under it (`*.example.com`, `.example.com`). */
  readonly includeSelf: boolean;
}

/** A compiled allow-list: the rules, and a lookup over them. */
export interface AllowList {
  /** The rules in the order given. Empty: everything is allowed. */
  readonly rules: readonly AllowRule[];
  /**
   * Whether a normalized name (from {@link normalizeHostname}) may be issued. A wildcard
   * `*.example.com` counts as a name under `example.com`, so it needs `example.com`,
   * `*.example.com`, `.example.com` or a parent of them.
   */
  allows(name: string): boolean;
}

/**
 * Parses one allow-list entry: `example.com` allows itself and every name under it;
 * `*.example.com` or `.example.com` allows only the names under it.
 *
 * @throws WhisperError `CONFIG_INVALID` naming the entry when it is not a valid domain.
 */
export function parseAllowEntry(entry: string): AllowRule {
  const raw = typeof entry === 'string' ? entry.trim() : entry;
  let body = raw;
  let includeSelf = true;
  if (typeof raw === 'string' && raw.startsWith('*.')) {
    body = raw.slice(2);
    includeSelf = false;
  } else if (typeof raw === 'string' && raw.startsWith('.')) {
    body = raw.slice(1);
    includeSelf = false;
  }
  try {
    return Object.freeze({ domain: normalizeHostname(body), includeSelf });
  } catch (err) {
    const reason = isWhisperError(err) ? err.message : String(err);
    throw new WhisperError('CONFIG_INVALID', `allow-list entry ${quote(String(entry))} is not a valid domain (${reason})`, {
      cause: err,
    });
  }
}

/**
 * Compiles allow-list entries (see {@link parseAllowEntry}). Matching is at label boundaries
 * only: `badexample.com` is not under `example.com`. An empty list allows everything.
 *
 * @throws WhisperError `CONFIG_INVALID` on the first invalid entry.
 */
export function createAllowList(entries: readonly string[]): AllowList {
  const rules = Object.freeze(entries.map(parseAllowEntry));
  const exact = new Set<string>();
  const parents = new Set<string>();
  for (const rule of rules) {
    parents.add(rule.domain);
    if (rule.includeSelf) exact.add(rule.domain);
  }
  const allows = (name: string): boolean => {
    if (rules.length === 0) return true;
    if (exact.has(name)) return true;
    // Walk the proper suffixes at label boundaries: a.b.example.com → b.example.com → example.com → com.
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      if (parents.has(name.slice(dot + 1))) return true;
    }
    return false;
  };
  return Object.freeze({ rules, allows }) satisfies AllowList;
}
