import { Argument } from 'commander';
import { deactivateAccount, rolloverAccountKey, showAccount, type AccountOpsOptions, type DeactivateOptions, type DeactivateResult, type RolloverOptions, type RolloverResult } from '../acme/account-ops.js';
import { accountStore } from '../acme/account-store.js';
import { createAcmeClientFactory } from '../acme/transport.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { AccountView } from '../ops/types.js';
import { openHistory } from '../history/db.js';
import { errorMessage } from '../errors.js';
import { commandLogger, configOf, failed, opsProgram, parse, withDaemonOptions, OPS_EXIT, type OpsIo } from './common.js';

const OWN = ['yes', 'json'];
const ACTIONS = ['show', 'rollover', 'deactivate'] as const;

/** What `account` needs: the daemon's account store and the account operations; tests pass fakes. */
export interface AccountDeps {
  open(config: Config, log: Logger): Promise<AccountOpsOptions & { readonly pendingKeyFile: string; close(): void }>;
  show(o: AccountOpsOptions): Promise<AccountView>;
  rollover(o: RolloverOptions): Promise<RolloverResult>;
  deactivate(o: DeactivateOptions): Promise<DeactivateResult>;
  /** Records a rollover or deactivation in the folder's history. @default none */
  record?(config: Config, event: { readonly reason: string; readonly message: string }, log: Logger): void;
}

/** The real {@link AccountDeps}: the store the daemon uses (under --ha the KV copy too), the CA of the options. */
export const defaultAccountDeps: AccountDeps = {
  async open(config, log) {
    const s = await accountStore(config, log);
    const clients = createAcmeClientFactory(config.caBundle ? { caBundle: config.caBundle } : {});
    return { directoryUrl: config.directoryUrl, store: s.store, folder: s.folder, pendingKeyFile: s.pendingKeyFile, clients, log, close: () => s.close() };
  },
  show: showAccount,
  rollover: rolloverAccountKey,
  deactivate: deactivateAccount,
  record(config, event, log) {
    // Beside a running daemon's own writes (SQLite waits for its lock); a history that cannot be opened is only a warning.
    try {
      const history = openHistory(config.certDir, { retentionDays: config.historyDays, log });
      try {
        history.record({ at: new Date(), kind: 'account', by: 'cli', ...event });
      } finally {
        history.close();
      }
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'the account change is not in the history');
    }
  },
};

/** The lines of `account show`. */
export function accountLines(a: AccountView): string {
  const rows: [string, string | undefined][] = [
    ['directory', a.directoryUrl],
    ['account', a.url ?? 'not registered'],
    ['status', a.status ?? 'unknown (the CA did not answer)'],
    ['key', a.keyType === undefined ? undefined : `${a.keyType}${a.thumbprint ? `, thumbprint ${a.thumbprint}` : ''}`],
    ['contact', a.contact && a.contact.length > 0 ? a.contact.join(', ') : undefined],
    ...Object.entries(a.urls).map(([dir, url]): [string, string] => ['other CA', `${dir}: ${url}`]),
  ];
  return rows.filter((r): r is [string, string] => r[1] !== undefined).map(([k, v]) => `${`${k}:`.padEnd(11)}${v}\n`).join('');
}

function rolloverLine(r: RolloverResult): string {
  return `account ${r.url}: key rolled over to ${r.keyType} ${r.thumbprint} (was ${r.oldThumbprint})` +
    `${r.keptAs ? `; the old key is kept as ${r.keptAs}` : ''}; a running daemon uses the new key from its next order\n`;
}

function deactivateLine(r: DeactivateResult): string {
  return `account ${r.url} deactivated${r.keptAs ? `; its key is kept as ${r.keptAs}` : ''}; the next start registers a new account ` +
    `with the new key ${r.thumbprint}\n`;
}

/**
 * `whisper-ts account <folder> show | rollover | deactivate`: the ACME account of the CA the options name. Acts
 * directly, also while a daemon runs (it reloads a changed account key at its next order); under `--ha` the cluster's
 * account in Consul KV is changed too.
 */
export async function accountCommand(argv: readonly string[], io: OpsIo, deps: AccountDeps = defaultAccountDeps): Promise<number> {
  const cmd = withDaemonOptions(opsProgram('account', 'the ACME account of the folder at the CA the options name (--directory-url, ' +
    '--staging): show it; rollover: replace its key (RFC 8555 key change, the account URL stays; the old key is kept aside); ' +
    'deactivate: end it at the CA for good (needs --yes; the next start registers a new account). Under --ha the ' +
    'account in Consul KV changes too. A running daemon picks up the change at its next order.', io)
    .argument('<path_to_cert_folder>')
    .addArgument(new Argument('<action>').choices(ACTIONS))
    .option('--yes', 'confirm deactivate (it cannot be undone)')
    .option('--json', 'one JSON document for machines'));
  const code = parse(cmd, argv);
  if (code !== undefined) return code;
  const [folder, action] = cmd.args as [string, (typeof ACTIONS)[number]];
  const raw = cmd.opts<Record<string, unknown>>();
  if (action === 'deactivate' && raw.yes !== true) {
    io.stderr('whisper-ts account: deactivating the account cannot be undone: add --yes to do it\n');
    return OPS_EXIT.usage;
  }
  try {
    const config = configOf(folder, raw, OWN, io);
    const log = commandLogger(config, io);
    const o = await deps.open(config, log);
    try {
      const out = (value: unknown, line: string) => io.stdout(raw.json ? `${JSON.stringify(value, null, 2)}\n` : line);
      if (action === 'show') {
        const a = await deps.show(o);
        out(a, accountLines(a));
      } else if (action === 'rollover') {
        const r = await deps.rollover(o);
        deps.record?.(config, { reason: 'rollover', message: `account ${r.url}: key ${r.oldThumbprint} replaced by ${r.thumbprint}` }, log);
        out(r, rolloverLine(r));
      } else {
        const r = await deps.deactivate({ ...o, confirm: true });
        deps.record?.(config, { reason: 'deactivate', message: `account ${r.url} deactivated; new key ${r.thumbprint}` }, log);
        out(r, deactivateLine(r));
      }
    } finally {
      o.close();
    }
    return OPS_EXIT.ok;
  } catch (err) {
    return failed('account', err, io);
  }
}
