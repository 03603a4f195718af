import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { persistNeeds } from './acme/challenge-choice.js';
import { missingRecords } from './dns/present-check.js';
import type { TxtRecord } from './dns/provider.js';
import { errorMessage, WhisperError } from './errors.js';
import { LETSENCRYPT } from './options.js';
import { ACCOUNT_URLS_FILE } from './store/account-files.js';
import { createFolderStore } from './store/folder.js';

/** The issuer domain name of the CAs whose name is known without asking them (the one in their CAA records). */
const KNOWN_ISSUERS: Readonly<Record<string, string>> = { [LETSENCRYPT.production]: 'letsencrypt.org', [LETSENCRYPT.staging]: 'letsencrypt.org' };

/** One record an account needs for one name. */
export interface PersistRow {
  readonly fqdn: string;
  readonly value: string;
  readonly directoryUrl: string;
  /** Whether every server asked answers the value; absent when not checked. */
  readonly present?: boolean;
}

/**
 * The DNS-PERSIST-01 records of every certificate's names, per account (one `.acme.json` URL per CA). A CA whose
 * issuer domain name is unknown (not Let's Encrypt, no `issuer`) is skipped and reported in `unknown`.
 */
export function persistRows(
  certNames: readonly (readonly string[])[],
  accounts: Readonly<Record<string, string>>,
  issuer?: string,
): { rows: PersistRow[]; unknown: string[] } {
  const rows: PersistRow[] = [];
  const unknown: string[] = [];
  const names = [...new Set(certNames.flat().map((n) => n.toLowerCase()))].sort();
  for (const [directoryUrl, accountUrl] of Object.entries(accounts)) {
    const issuerDomainName = issuer ?? KNOWN_ISSUERS[directoryUrl];
    if (issuerDomainName === undefined) {
      unknown.push(directoryUrl);
      continue;
    }
    const items = names.map((n) => ({ identifier: n.replace(/^\*\./, ''), wildcard: n.startsWith('*.'), issuerDomainName }));
    for (const need of persistNeeds(items, accountUrl)) rows.push({ ...need, directoryUrl });
  }
  return { rows, unknown };
}

/** The account URLs of `<folder>/.acme.json`, by directory URL; none when the file is missing. */
async function accountUrls(dir: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(join(dir, ACCOUNT_URLS_FILE), 'utf8');
  } catch {
    return {};
  }
  const urls = (JSON.parse(text) as { urls?: unknown } | null)?.urls;
  if (typeof urls !== 'object' || urls === null) throw new WhisperError('CONFIG_INVALID', `${ACCOUNT_URLS_FILE}: no "urls" object`);
  return Object.fromEntries(Object.entries(urls).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/**
 * `whisper-ts dns-persist <folder> [--json]`: the `_validation-persist.<name>` TXT records the account needs for the
 * folder's certificates, each checked on the zone's authoritative servers (or `--dns-resolver`). Exit 1 when one is
 * missing, so that a script can wait for its DNS change.
 */
export async function dnsPersistCommand(argv: readonly string[], io: { stdout: (t: string) => void; stderr: (t: string) => void }): Promise<number> {
  const cmd = new Command('whisper-ts dns-persist')
    .description('the DNS-PERSIST-01 records (`--challenge dns-persist-01`) the account needs for the folder\'s certificates, and whether each is in place')
    .argument('<path_to_cert_folder>')
    .option('--json', 'one JSON document for machines')
    .option('--issuer-domain-name <name>', 'the CA\'s issuer domain name (its challenge\'s `issuer-domain-names`; default: letsencrypt.org for Let\'s Encrypt)')
    .option('--directory-url <url>', 'only the account of this CA (default: every account of the folder\'s .acme.json)')
    .option('--dns-resolver <host:port>', 'check on these servers instead of the authoritative ones (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--no-check', 'print the records without asking DNS')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  try {
    cmd.parse(argv.slice(1), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const o = cmd.opts<{ json?: boolean; issuerDomainName?: string; directoryUrl?: string; dnsResolver?: string[]; check: boolean }>();
  const dir = cmd.args[0]!;
  try {
    const certs = await createFolderStore(dir).list((file, err) => io.stderr(`whisper-ts: ${file}: ${errorMessage(err)}\n`));
    const all = await accountUrls(dir);
    const accounts = o.directoryUrl ? Object.fromEntries(Object.entries(all).filter(([d]) => d === o.directoryUrl)) : all;
    if (Object.keys(accounts).length === 0) {
      io.stderr(`whisper-ts dns-persist: no account in ${ACCOUNT_URLS_FILE}${o.directoryUrl ? ` for ${o.directoryUrl}` : ''}: start the daemon once to register it\n`);
      return 1;
    }
    const { rows, unknown } = persistRows(certs.map((c) => c.names), accounts, o.issuerDomainName);
    for (const d of unknown) io.stderr(`whisper-ts dns-persist: ${d}: issuer domain name unknown, give --issuer-domain-name\n`);
    const checked = o.check ? await check(rows, o.dnsResolver ?? []) : rows;
    io.stdout(o.json ? `${JSON.stringify({ records: checked }, null, 2)}\n` : table(checked));
    return checked.some((r) => r.present === false) || unknown.length > 0 ? 1 : 0;
  } catch (err) {
    io.stderr(`whisper-ts dns-persist: ${errorMessage(err)}\n`);
    return 1;
  }
}

async function check(rows: readonly PersistRow[], servers: readonly string[]): Promise<PersistRow[]> {
  const records: TxtRecord[] = rows.map((r) => ({ fqdn: r.fqdn, value: r.value, persistent: true }));
  const missing = new Set(await missingRecords(records, servers.length > 0 ? { servers } : {}));
  return rows.map((r, i) => ({ ...r, present: !missing.has(records[i]!) }));
}

function table(rows: readonly PersistRow[]): string {
  if (rows.length === 0) return 'no certificates in the folder: no records needed\n';
  const state = (r: PersistRow) => (r.present === undefined ? '' : r.present ? 'present  ' : 'MISSING  ');
  return rows.map((r) => `${state(r)}${r.fqdn}. TXT "${r.value}"\n`).join('');
}
