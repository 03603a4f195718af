/** Longest character-string a TXT record may hold (RFC 1035 §3.3: one length byte). */
export const TXT_STRING_MAX = 255;

const BACKSLASH = 0x5c;
const QUOTE = 0x22;

function escapeByte(byte: number): string {
  if (byte === QUOTE) return '\\"';
  if (byte === BACKSLASH) return '\\\\';
  // Route53 wants bytes outside printable ASCII as a three-digit octal escape.
  if (byte < 0x20 || byte > 0x7e) return `\\${byte.toString(8).padStart(3, '0')}`;
  return String.fromCharCode(byte);
}

/**
 * Encodes one TXT value in zone-file presentation form, as Route53 expects it: one or more quoted
 * character-strings separated by a space, each holding at most 255 bytes of the UTF-8 value, with `"`
 * and `\` backslash-escaped and bytes outside printable ASCII written as `\ddd` (octal).
 *
 * `quoteTxt('abc')` is `"abc"`; a 300-character value gives `"<255 chars>" "<45 chars>"`.
 */
export function quoteTxt(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  const parts: string[] = [];
  for (let start = 0; start < bytes.length || parts.length === 0; start += TXT_STRING_MAX) {
    const chunk = bytes.subarray(start, start + TXT_STRING_MAX);
    parts.push(`"${Array.from(chunk, escapeByte).join('')}"`);
  }
  return parts.join(' ');
}

/**
 * Decodes the presentation form of one TXT record (as Route53 returns it) into its value: the
 * character-strings are unescaped and concatenated. Unquoted words are accepted too (one string each).
 * The inverse of {@link quoteTxt}.
 */
export function unquoteTxt(rdata: string): string {
  const out: number[] = [];
  let i = 0;
  // Reads one character (or escape) at rdata[i] into out.
  const readOne = (): void => {
    if (rdata[i] !== '\\') {
      const c = String.fromCodePoint(rdata.codePointAt(i) ?? 0);
      out.push(...Buffer.from(c, 'utf8'));
      i += c.length;
      return;
    }
    const digits = rdata.slice(i + 1, i + 4);
    if (/^[0-9]{3}$/.test(digits)) {
      // Route53 writes octal escapes; RFC 1035's are decimal, which only digits 8 and 9 can tell apart.
      out.push(parseInt(digits, /[89]/.test(digits) ? 10 : 8) & 0xff);
      i += 4;
      return;
    }
    const next = rdata[i + 1];
    if (next !== undefined) out.push(...Buffer.from(next, 'utf8'));
    i += 2;
  };
  while (i < rdata.length) {
    const ch = rdata[i];
    if (ch === ' ' || ch === '\t') {
      i += 1;
    } else if (ch === '"') {
      i += 1;
      while (i < rdata.length && rdata[i] !== '"') readOne();
      i += 1; // the closing quote
    } else {
      while (i < rdata.length && rdata[i] !== ' ' && rdata[i] !== '\t') readOne();
    }
  }
  return Buffer.from(out).toString('utf8');
}
