/**
 * Parses Consul service tags of the form `key=value` (whisper's and switchboard's tag language).
 *
 * - split at the first `=`: `url_prefix=/a=b` is key `url_prefix`, value `/a=b`;
 * - key and value lose surrounding white space only; keys are case-sensitive, as in whisper;
 * - a key may repeat and then holds a list: values de-duplicated, first-seen order kept;
 * - tags without `=`, with an empty key, or that are not strings are ignored;
 * - an empty value (`dns=`) is kept, so the planner can report it.
 */
export function parseTags(tags: readonly string[]): Map<string, string[]> {
  const parsed = new Map<string, string[]>();
  for (const tag of tags) {
    if (typeof tag !== 'string') continue;
    const eq = tag.indexOf('=');
    if (eq === -1) continue;
    const key = tag.slice(0, eq).trim();
    if (key.length === 0) continue;
    const value = tag.slice(eq + 1).trim();
    const values = parsed.get(key);
    if (values === undefined) parsed.set(key, [value]);
    else if (!values.includes(value)) values.push(value);
  }
  return parsed;
}
