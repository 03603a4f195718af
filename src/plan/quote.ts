/** Longest part of an untrusted value shown in a message; longer values are cut and marked. */
const MAX_SHOWN = 300;

/**
 * Quotes an untrusted value for an error message or a log line: JSON string syntax, with every
 * control, format, separator and non-ASCII invisible character escaped as `\uXXXX`, so NUL,
 * newlines, bidi overrides or zero-width characters are visible instead of acting on the terminal.
 * Values over 300 characters are cut and end in `…(N chars)`.
 */
export function quote(value: string): string {
  const shown = value.length > MAX_SHOWN ? value.slice(0, MAX_SHOWN) : value;
  const json = JSON.stringify(shown).replace(
    /[\p{C}\p{Z}]/gu,
    (ch) => (ch === ' ' ? ch : escapeCodeUnits(ch)),
  );
  return value.length > MAX_SHOWN ? `${json}…(${value.length} chars)` : json;
}

function escapeCodeUnits(ch: string): string {
  let out = '';
  for (let i = 0; i < ch.length; i += 1) {
    out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
  }
  return out;
}
