import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WhisperError } from '../errors.js';

/**
 * The shared credentials file the AWS SDK reads: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
 */
export function defaultCredentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_SHARED_CREDENTIALS_FILE ?? join(homedir(), '.aws', 'credentials');
}

/** The section names (`[name]`) of an INI text, in file order. */
export function iniSectionNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*\[\s*([^\]]+?)\s*\]\s*(?:[#;].*)?$/.exec(line);
    if (m?.[1] !== undefined) names.push(m[1]);
  }
  return names;
}

/**
 * The profile names of a shared credentials file, keyed by their lowercase form (DNS names are
 * case-insensitive, the SDK's profile lookup is not); none when the file does not exist.
 * Any other read failure is a configuration error.
 */
export async function readProfileNames(file: string): Promise<Map<string, string>> {
  try {
    const names = iniSectionNames(await readFile(file, 'utf8'));
    return new Map(names.map((n) => [n.toLowerCase(), n]));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new WhisperError('CONFIG_INVALID', `cannot read the AWS credentials file ${file}`, { cause: err });
  }
}

/**
 * whisper's rule, kept for drop-in compatibility: the record `_acme-challenge.a.b.example.com` uses the
 * profile named after the longest of `a.b.example.com`, `b.example.com`, `example.com` (and `com`) that
 * exists in the credentials file (`profiles` as from {@link readProfileNames}); `undefined` means the
 * default credential chain. The host itself is a candidate so that an apex certificate of `example.com`
 * finds `[example.com]`.
 */
export function chooseProfile(fqdn: string, profiles: ReadonlyMap<string, string>): string | undefined {
  const labels = fqdn.toLowerCase().replace(/\.$/, '').split('.');
  for (let i = 1; i < labels.length; i++) {
    const profile = profiles.get(labels.slice(i).join('.'));
    if (profile !== undefined) return profile;
  }
  return undefined;
}
