import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WhisperError } from '../errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A leading `~/` is the home folder, as the AWS SDK reads it in `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`. */
function expandHome(path: string, home: string): string {
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/**
 * The shared credentials file the AWS SDK reads: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
 */
export function defaultCredentialsFile(env: Env = process.env, home: string = homedir()): string {
  return expandHome(env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'), home);
}

/** The shared config file the AWS SDK reads: `AWS_CONFIG_FILE`, else `~/.aws/config`. */
export function defaultConfigFile(env: Env = process.env, home: string = homedir()): string {
  return expandHome(env.AWS_CONFIG_FILE || join(home, '.aws', 'config'), home);
}

/** The AWS SDK's typed sections, `[<type> <name>]` (`IniSectionType` of `@smithy/types`). */
const SECTION_TYPES = new Set(['profile', 'sso-session', 'services']);
/** The AWS SDK's pattern of a typed section header (`prefixKeyRegex` of its INI parser). */
const TYPED_SECTION = /^([\w-]+)\s(["'])?([\w@+.%:/-]+)\2$/;

/**
 * The sections of a shared AWS file as the AWS SDK (v3) parses it, in file order, named as its parser keys them:
 * - a comment starts at `#` or `;` at the start of a line or after a space; the rest of the line is trimmed;
 * - `[<type> <name>]` with a known type (`profile`, `sso-session`, `services`; one space, the name optionally quoted)
 *   is `<type>.<name>`; with an unknown type the section is ignored; any other `[<text>]` is `<text>` as written
 *   (inner spaces included: `[ a ]` is ` a `, which no profile lookup finds);
 * - a section counts only once it holds a `key = value` setting: the SDK does not know an empty one.
 */
export function iniSections(text: string): string[] {
  const found = new Set<string>();
  let current: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = (raw.split(/(?:^|\s)[;#]/)[0] ?? '').trim();
    if (line.startsWith('[') && line.endsWith(']')) {
      const name = line.slice(1, -1);
      const typed = TYPED_SECTION.exec(name);
      current = typed ? (SECTION_TYPES.has(typed[1] ?? '') ? `${typed[1]}.${typed[3]}` : undefined) : name;
      continue;
    }
    const eq = line.indexOf('=');
    if (current !== undefined && eq > 0 && line.slice(eq + 1).trim() !== '') found.add(current);
  }
  return [...found];
}

/** Which shared file a text comes from: the two name profiles differently. */
export type SharedFileKind = 'credentials' | 'config';

/**
 * The profile names the AWS SDK finds in a shared file, in file order, following its rules:
 * - credentials file (`~/.aws/credentials`): every section is a profile, `[my.domain.tld]` is `my.domain.tld`;
 * - config file (`~/.aws/config`): `[profile my.domain.tld]` is `my.domain.tld` and `[default]` is `default`; any
 *   other `[name]` is not a profile (the AWS CLI and SDKs ignore `[my.domain.tld]` there), nor are `[sso-session x]`
 *   and `[services x]`.
 * The name is the bare one `fromIni({ profile })` takes: the SDK itself reads both files under it and merges them.
 */
export function profileNames(text: string, kind: SharedFileKind): string[] {
  const sections = iniSections(text);
  if (kind === 'credentials') return sections;
  const names: string[] = [];
  for (const section of sections) {
    if (section === 'default') names.push(section);
    // The SDK keeps `profile.<name>` as `<name>` (so `[profile.x]`, without a space, is `x` to it as well).
    else if (section.startsWith('profile.')) names.push(section.slice('profile.'.length));
  }
  return names;
}

/** The shared files searched for per-zone profiles. */
export interface SharedFiles {
  /** `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials` (see {@link defaultCredentialsFile}). */
  readonly credentialsFile: string;
  /** `AWS_CONFIG_FILE`, else `~/.aws/config` (see {@link defaultConfigFile}); none: not searched. */
  readonly configFile?: string;
}

async function readShared(file: string, kind: SharedFileKind): Promise<string[]> {
  try {
    return profileNames(await readFile(file, 'utf8'), kind);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new WhisperError('CONFIG_INVALID', `cannot read the AWS ${kind} file ${file}`, { cause: err });
  }
}

/**
 * The profile names of the shared credentials and config files ({@link profileNames}), keyed by their lowercase
 * form (DNS names are case-insensitive, the SDK's profile lookup is not) and giving the name as written. When two
 * spellings share a lowercase form, the credentials file's wins (whisper's documented place), then the first in
 * file order. A missing file has none; any other read failure is a configuration error.
 */
export async function readProfileNames(files: SharedFiles): Promise<Map<string, string>> {
  const [credentials, config] = await Promise.all([
    readShared(files.credentialsFile, 'credentials'),
    files.configFile === undefined ? Promise.resolve([]) : readShared(files.configFile, 'config'),
  ]);
  const profiles = new Map<string, string>();
  for (const name of [...credentials, ...config]) {
    const key = name.toLowerCase();
    if (!profiles.has(key)) profiles.set(key, name);
  }
  return profiles;
}

/**
 * whisper's rule, kept for drop-in compatibility: the record `_acme-challenge.a.b.example.com` uses the
 * profile named after the longest of `a.b.example.com`, `b.example.com`, `example.com` (and `com`) that
 * exists (`profiles` as from {@link readProfileNames}: `[<zone>]` in the credentials file or `[profile <zone>]`
 * in the config file); `undefined` means the default credential chain. The host itself is a candidate so that
 * an apex certificate of `example.com` finds `[example.com]`.
 */
export function chooseProfile(fqdn: string, profiles: ReadonlyMap<string, string>): string | undefined {
  const labels = fqdn.toLowerCase().replace(/\.$/, '').split('.');
  for (let i = 1; i < labels.length; i++) {
    const profile = profiles.get(labels.slice(i).join('.'));
    if (profile !== undefined) return profile;
  }
  return undefined;
}
