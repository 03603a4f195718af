import { isWhisperError } from '../errors.js';
import type { RenewResult } from '../ops/types.js';
import { configOf, failed, opsProgram, parse, throughDaemonOrDirect, tokenFileOf, withDaemonOptions, OPS_EXIT, type OpsDeps, type OpsIo, type Via } from './common.js';

const OWN = ['force', 'json'];

/** The line `renew` prints: the daemon's answer, or what this process did. */
export function renewLine(r: RenewResult, via: Via, force: boolean): string {
  if (via === 'daemon') return `${r.message}\n`;
  if (r.deferredBy) return `${r.message}; no daemon runs: its next start orders it then\n`;
  return `${r.id}: ${force ? 'renewed' : 'checked, and renewed if it was due'} (no daemon runs: acted directly)\n`;
}

/**
 * A direct order the rate-limit budget (or the CA's Retry-After) held back is not a failure: the request is kept in
 * the state (with --force), and the daemon orders it when the budget allows, as it would have through its API.
 */
function deferral(id: string, via: Via, err: unknown): RenewResult {
  if (via !== 'direct' || !isWhisperError(err, 'RATE_LIMIT_DEFERRED')) throw err;
  const runsAt = (err.retryAfter ?? new Date()).toISOString();
  const m = /the (\S+) budget \(([^)]*)\)/.exec(err.message);
  return { id, runsAt, deferredBy: m ? { bucket: m[1]!, key: m[2]! } : { bucket: 'CA Retry-After', key: id }, message: err.message };
}

/**
 * `whisper-ts renew <folder> <cert> [--force]`: a renewal now, through the running daemon's admin API, or without a
 * daemon directly (under the folder lock; the order runs before the command returns).
 */
export async function renewCommand(argv: readonly string[], io: OpsIo, deps: OpsDeps): Promise<number> {
  const cmd = withDaemonOptions(opsProgram('renew', 'renew one certificate now: through the running daemon\'s admin API (--listen, ' +
    '--admin-token-file) when one holds the folder, else directly (the order runs before the command returns). Without ' +
    '--force the certificate is only checked now and renewed when due. The rate-limit budget still decides when the order runs.', io)
    .argument('<path_to_cert_folder>')
    .argument('<cert>', 'the certificate id: its file\'s base name (www.example.com for www.example.com.pem)')
    .option('--force', 'renew even when it is not due')
    .option('--json', 'one JSON document for machines'));
  const code = parse(cmd, argv);
  if (code !== undefined) return code;
  const [folder, id] = cmd.args as [string, string];
  const raw = cmd.opts<Record<string, unknown>>();
  const force = raw.force === true;
  try {
    const config = configOf(folder, raw, OWN, io);
    const [result, via] = await throughDaemonOrDirect(config.certDir, config, tokenFileOf(raw, io), deps, io,
      async (ops, via) => [await ops.renew(id, { force, by: 'cli' }).catch((err: unknown) => deferral(id, via, err)), via] as const);
    io.stdout(raw.json ? `${JSON.stringify({ ...result, via }, null, 2)}\n` : renewLine(result, via, force));
    return OPS_EXIT.ok;
  } catch (err) {
    return failed('renew', err, io);
  }
}
