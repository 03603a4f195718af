import { accountCommand, defaultAccountDeps, type AccountDeps } from './ops-cli/account.js';
import type { OpsDeps, OpsIo } from './ops-cli/common.js';
import { importCommand } from './ops-cli/import.js';
import { renewCommand } from './ops-cli/renew.js';
import { revokeCommand } from './ops-cli/revoke.js';

export { OPS_EXIT, type OpsDeps, type OpsIo } from './ops-cli/common.js';
export type { AccountDeps } from './ops-cli/account.js';

/** The operator's commands, by the first word of the command line. */
export const OPS_COMMANDS = ['renew', 'revoke', 'account', 'import'] as const;
export type OpsCommandName = (typeof OPS_COMMANDS)[number];

/** Whether `word` names one of {@link OPS_COMMANDS}. */
export function isOpsCommand(word: string | undefined): word is OpsCommandName {
  return (OPS_COMMANDS as readonly string[]).includes(word ?? '');
}

/**
 * Runs `whisper-ts renew|revoke|account|import …` (`argv[0]` names it). Exit 0 done, 1 failure, 2 invalid options or
 * input, 3 certificate not found.
 * @param deps the daemon finder, folder lock and direct actions. @default the real ones (loaded on first use)
 */
export async function opsCommand(argv: readonly string[], io: OpsIo, deps?: { ops?: OpsDeps; account?: AccountDeps }): Promise<number> {
  const name = argv[0] as OpsCommandName;
  if (name === 'account') return accountCommand(argv, io, deps?.account ?? defaultAccountDeps);
  // The direct path loads the daemon's parts: only when a command needs them.
  const ops = deps?.ops ?? (await import('./ops-cli/deps.js')).defaultOpsDeps;
  if (name === 'renew') return renewCommand(argv, io, ops);
  if (name === 'revoke') return revokeCommand(argv, io, ops);
  return importCommand(argv, io, ops);
}
