import { Option } from 'commander';
import { REVOCATION_REASONS, type RevocationReason, type RevokeResult } from '../ops/types.js';
import { configOf, failed, opsProgram, parse, throughDaemonOrDirect, tokenFileOf, withDaemonOptions, OPS_EXIT, type OpsDeps, type OpsIo, type Via } from './common.js';

const OWN = ['reason', 'yes', 'json'];

/** The line `revoke` prints. */
export function revokeLine(r: RevokeResult, via: Via): string {
  const replacement = via === 'direct' && !r.replacement.deferredBy && !/not replaced/.test(r.replacement.message)
    ? `replaced by a new certificate (no daemon runs: acted directly)`
    : r.replacement.message;
  return `revoked ${r.id} (serial ${r.serial}, reason ${r.reason}); ${replacement}\n`;
}

/**
 * `whisper-ts revoke <folder> <cert> --yes [--reason <name>]`: revokes the certificate in the folder at the CA and
 * orders its replacement at once, through the daemon's admin API or directly (as `renew`).
 */
export async function revokeCommand(argv: readonly string[], io: OpsIo, deps: OpsDeps): Promise<number> {
  const cmd = withDaemonOptions(opsProgram('revoke', 'revoke the certificate in the folder at the CA (RFC 8555) and order its ' +
    'replacement at once: through the running daemon\'s admin API when one holds the folder, else directly. A revocation ' +
    'cannot be undone and asks no question: --yes is required.', io)
    .argument('<path_to_cert_folder>')
    .argument('<cert>', 'the certificate id: its file\'s base name (www.example.com for www.example.com.pem)')
    .addOption(new Option('--reason <name>', 'the RFC 5280 reason').choices(Object.keys(REVOCATION_REASONS)).default('unspecified'))
    .option('--yes', 'yes, revoke it (required: a revoked certificate cannot be restored)')
    .option('--json', 'one JSON document for machines'));
  const code = parse(cmd, argv);
  if (code !== undefined) return code;
  const [folder, id] = cmd.args as [string, string];
  const raw = cmd.opts<Record<string, unknown>>();
  if (raw.yes !== true) {
    io.stderr(`whisper-ts revoke: revoking ${id} cannot be undone: add --yes to do it\n`);
    return OPS_EXIT.usage;
  }
  const reason = raw.reason as RevocationReason;
  try {
    const config = configOf(folder, raw, OWN, io);
    const [result, via] = await throughDaemonOrDirect(config.certDir, config, tokenFileOf(raw, io), deps, io,
      async (ops, via) => [await ops.revoke(id, { reason, by: 'cli' }), via] as const);
    io.stdout(raw.json ? `${JSON.stringify({ ...result, via }, null, 2)}\n` : revokeLine(result, via));
    return OPS_EXIT.ok;
  } catch (err) {
    return failed('revoke', err, io);
  }
}
