import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { WhisperError } from '../errors.js';
import { quote } from './quote.js';

/** Options of {@link normalizeHostname}. */
export interface NormalizeHostnameOptions {
  /** Accept `*` as the whole first label (`*.example.com`). @default false */
  allowWildcard?: boolean;
}

/** RFC 1035: a name is at most 253 characters written without its trailing dot. */
const MAX_NAME = 253;
const MAX_LABEL = 63;
/** Inputs this long are refused before any Unicode processing, so hostile tags cost nothing. */
const MAX_INPUT = 1024;

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** ASCII a hostname may contain before IDNA mapping; everything else ASCII is refused by name. */
const ALLOWED_ASCII = /^[A-Za-z0-9.*-]$/;
/**
 * Control, format (zero-width, bidi), surrogate, private-use, unassigned and separator characters.
 * IDNA would silently drop some of them (`a\u200Bb` becomes `ab`), so two different tags could
 * name one host without anyone seeing why.
 */
const INVISIBLE = /[\p{C}\p{Z}]/u;
/** The WHATWG URL parser reads a name whose last label is a number (or 0x hex) as an IPv4 address. */
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/i;

/**
 * Validates a hostname from an untrusted source (a Consul tag) and returns its canonical form:
 * lowercase ASCII, IDN labels as punycode (`bücher.example` → `xn--bcher-kva.example`), without a
 * trailing dot. The result contains only `a-z 0-9 - .` (and a leading `*.` when allowed), so it is
 * safe in a file name, a DNS change and an ACME order.
 *
 * @throws WhisperError `HOSTNAME_INVALID`, naming the (escaped) input: empty; control or invisible
 *   characters; `/`, `\`, `%`, spaces or other punctuation; an empty label (`..`, leading dot);
 *   a label over 63 characters, not letters-digits-hyphens, with a leading or trailing hyphen, or
 *   `ab--` without being valid punycode; over 253 characters; a single label; a numeric last label;
 *   an IP address; a `*` anywhere but as the whole first label when `allowWildcard` is set.
 */
export function normalizeHostname(input: string, opts: NormalizeHostnameOptions = {}): string {
  const fail = (reason: string): never => {
    throw new WhisperError('HOSTNAME_INVALID', `invalid hostname ${quote(String(input))}: ${reason}`);
  };
  if (typeof input !== 'string') return fail('not a string');
  if (input.length === 0) return fail('empty');
  if (input.length > MAX_INPUT) return fail(`longer than ${MAX_NAME} characters`);
  const trimmed = input.endsWith('.') ? input.slice(0, -1) : input;
  if (isIP(trimmed) !== 0 || isIP(trimmed.replace(/^\[(.*)\]$/, '$1')) !== 0) {
    return fail('an IP address, not a hostname');
  }
  checkCharacters(input, fail);
  if (input.includes('..')) return fail("contains '..' (an empty label)");
  if (trimmed.length === 0 || trimmed.startsWith('.')) return fail('contains an empty label');

  let wildcard = false;
  let rest = trimmed;
  if (trimmed.includes('*')) {
    if (!opts.allowWildcard) return fail("contains '*' (wildcards are not allowed here)");
    if (!trimmed.startsWith('*.') || trimmed.indexOf('*', 1) !== -1) {
      return fail("'*' is only allowed as the whole first label (*.example.com)");
    }
    wildcard = true;
    rest = trimmed.slice(2);
  }

  const lastRaw = rest.slice(rest.lastIndexOf('.') + 1);
  if (NUMERIC_LABEL.test(lastRaw)) return fail('the last label is numeric (looks like an IP address)');

  const ascii = domainToASCII(rest);
  if (ascii === '') return fail('not a valid internationalized domain name');
  // IDNA may map a non-ASCII full stop (U+3002) to a trailing dot.
  const name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  const labels = name.split('.');
  if (labels.length < 2) return fail('a single label; a fully qualified name is needed');
  for (const label of labels) {
    const reason = labelProblem(label);
    if (reason !== undefined) return fail(reason);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return fail('the last label is numeric (looks like an IP address)');
  }
  const result = wildcard ? `*.${name}` : name;
  if (result.length > MAX_NAME) return fail(`longer than ${MAX_NAME} characters`);
  return result;
}

/**
 * True when `zone` is a valid DNS zone name for the planner (a hostname of two labels or more,
 * no wildcard): the same rules as {@link normalizeHostname}.
 */
export function isValidZone(zone: string): boolean {
  try {
    normalizeHostname(zone);
    return true;
  } catch {
    return false;
  }
}

function checkCharacters(input: string, fail: (reason: string) => never): void {
  for (const ch of input) {
    if (ch === '/' || ch === '\\') fail(`contains a path character ${quote(ch)}`);
    if (ch === ' ' || /\s/u.test(ch)) fail('contains white space');
    if (INVISIBLE.test(ch)) fail(`contains a control or invisible character ${quote(ch)}`);
    if (ch.charCodeAt(0) < 0x80 && !ALLOWED_ASCII.test(ch)) fail(`contains the character ${quote(ch)}`);
  }
}

function labelProblem(label: string): string | undefined {
  if (label.length === 0) return 'contains an empty label';
  if (label.length > MAX_LABEL) return `a label is longer than ${MAX_LABEL} characters`;
  if (label.startsWith('-') || label.endsWith('-')) {
    return `the label ${quote(label)} starts or ends with a hyphen`;
  }
  if (!LDH_LABEL.test(label)) return `the label ${quote(label)} is not letters, digits and hyphens`;
  // RFC 5891 reserves '??--' for IDNA; the CA refuses it unless it is valid punycode. Node 22+
  // (ada) passes an undecodable 'xn--' label through domainToASCII, so it is decoded here.
  if (label.startsWith('xn--')) {
    if (!isPunycode(label)) return `the label ${quote(label)} is not valid internationalized (punycode) text`;
  } else if (label.slice(2, 4) === '--') {
    return `the label ${quote(label)} has '--' in the 3rd and 4th positions and is not punycode`;
  }
  return undefined;
}

/** True when an `xn--` label decodes to Unicode that encodes back to the same label. */
function isPunycode(label: string): boolean {
  const unicode = domainToUnicode(label);
  return unicode !== '' && !unicode.startsWith('xn--') && domainToASCII(unicode) === label;
}
