import { OPTIONS } from './options.js';

/** Flags that take a value: their next word is never a positional argument. */
const VALUE_FLAGS = new Set(
  OPTIONS.filter((o) => o.flags.includes('<')).flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith('-'))),
);

/** The rule of `-d`, as `--help` and docs/migration.md state it. */
export const DASH_D_RULE =
  '`-d` is --debug (whisper\'s first release), unless a zone follows it and the folder is given too: `-d example.com /app/certs` ' +
  'and `/app/certs -d example.com` are `--domain example.com` (its last release). With the folder in WHISPER_CERT_FOLDER (the image), `-d <name with a dot, no slash>` ' +
  'is --domain too.';

/** Options of {@link whisperArgv}. */
export interface WhisperArgvOptions {
  /** Whether the folder comes from the environment (`WHISPER_CERT_FOLDER`), so no positional need follow. @default false */
  readonly folderFromEnv?: boolean;
}

/**
 * Rewrites the command lines of both whisper generations into whisper-ts's: `-d <zone>` beside a folder becomes
 * `--domain <zone>` (the last release) while a lone `-d` stays debug (the first); the first release's
 * `-o/--output-certs <folder>` becomes the positional folder and `--acme-staging` becomes `--staging`.
 * Pure: the words in, the words out; everything after `--` is left alone.
 */
export function whisperArgv(argv: readonly string[], options: WhisperArgvOptions = {}): string[] {
  const words = [...argv];
  const end = words.indexOf('--') === -1 ? words.length : words.indexOf('--');
  // Which words are positional, reading `-d` as a switch: a word not starting with `-`, not a value of the flag before it.
  const positional: boolean[] = words.map(() => false);
  for (let i = 0; i < end; i++) {
    const w = words[i] ?? '';
    if (w.startsWith('-') && w !== '-') {
      if ((VALUE_FLAGS.has(w) || w === '-o' || w === '--output-certs') && !w.includes('=')) i++;
      continue;
    }
    positional[i] = true;
  }
  const hasOutputFlag = words.slice(0, end).some((w) => w === '-o' || w === '--output-certs' || w.startsWith('--output-certs='));
  const out: string[] = [];
  const folders: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    if (i >= end) {
      out.push(w);
      continue;
    }
    if (w === '-o' || w === '--output-certs') {
      const value = words[i + 1];
      if (value !== undefined) folders.push(value);
      i++;
      continue;
    }
    if (w.startsWith('--output-certs=')) {
      folders.push(w.slice('--output-certs='.length));
      continue;
    }
    if (w === '--acme-staging') {
      out.push('--staging');
      continue;
    }
    if (w === '-d' && positional[i + 1] === true) {
      const next = words[i + 1] ?? '';
      // Another positional word (the folder, before or after) means this one is a zone: two folders are refused anyway.
      const otherPositional = positional.some((p, j) => p && j !== i + 1 && j < end);
      const zoneLike = next.includes('.') && !next.includes('/');
      if (otherPositional || hasOutputFlag || (options.folderFromEnv === true && zoneLike)) {
        out.push('--domain', next);
        positional[i + 1] = false;
        i++;
        continue;
      }
    }
    out.push(w);
  }
  // The folder given by `-o` goes last, where the positional argument is read (before `--`, if any).
  if (folders.length > 0) out.splice(out.indexOf('--') === -1 ? out.length : out.indexOf('--'), 0, ...folders);
  return out;
}
