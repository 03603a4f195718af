import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { pino, type DestinationStream } from 'pino';
import { addDaemonOptions } from '../cli-options.js';
import { buildConfig, type Config } from '../config.js';
import { errorMessage, isWhisperError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { prettyDestination } from '../log-pretty.js';
import type { DaemonApi } from '../ops/client.js';
import type { OpsBackend } from '../ops/types.js';

/** Exit codes of the operator's commands. */
export const OPS_EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const;

/** The exit codes, for every command's help. */
export const EXIT_HELP = '\nExit codes: 0 done, 1 failure (the CA, DNS, the daemon, a lock held by another process), 2 invalid ' +
  'options or input, 3 the certificate is not found.\n';

/** The actions the commands take: the daemon's, or those of {@link openDirect} without one. */
export type OpsActions = Pick<OpsBackend, 'renew' | 'revoke' | 'importCerts'>;

/** What the commands need from the world; tests pass fakes (no CA, no daemon). */
export interface OpsDeps {
  /** The running daemon's API, if one holds the folder (see `ops/client.ts`). */
  findDaemon(folder: string, opts: { readonly tokenFile?: string }): Promise<Pick<DaemonApi, 'renew' | 'revoke' | 'importCerts' | 'holder'> | undefined>;
  /** Takes the folder lock without waiting (`FOLDER_LOCKED` when another process holds it). */
  acquireLock(folder: string, log: Logger): Promise<{ release(): Promise<void> }>;
  /** The daemon's actions, run in this process (see `ops/direct.ts`). */
  openDirect(config: Config, log: Logger): Promise<OpsActions & { close(): Promise<void> }>;
}

/** What a command writes to and reads; tests pass their own. */
export interface OpsIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** Where the logs of the direct path go. @default stderr */
  readonly logDestination?: DestinationStream;
}

/** A command of the operator: its name and description, the daemon's options, `--help` and errors to `io`. */
export function opsProgram(name: string, description: string, io: OpsIo): Command {
  const cmd = new Command(`whisper-ts ${name}`)
    .description(description)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError(`(whisper-ts ${name} --help lists every option)`);
  return cmd;
}

/** Adds the daemon's options after the command's own (for the direct path: the CA, DNS, Consul). */
export function withDaemonOptions(cmd: Command): Command {
  return addDaemonOptions(cmd).addHelpText('after', `${EXIT_HELP}The daemon's options matter only when no daemon holds the folder and the command acts itself; give the daemon's.\n`);
}

/** Parses `argv` (after the command's name); the exit code when there is nothing to run (help, usage error). */
export function parse(cmd: Command, argv: readonly string[]): number | undefined {
  try {
    cmd.parse(argv.slice(1), { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? OPS_EXIT.ok : OPS_EXIT.usage;
    throw err;
  }
}

/**
 * The {@link Config} of the direct path, from the daemon's options (without the command's own) and environment. The
 * admin token file is the client's here (see {@link tokenFileOf}), not a server's: it is not read as the daemon would.
 */
export function configOf(folder: string, raw: Record<string, unknown>, own: readonly string[], io: OpsIo): Config {
  const skip = new Set([...own, 'adminTokenFile']);
  const daemonRaw = Object.fromEntries(Object.entries(raw).filter(([k]) => !skip.has(k)));
  const { WHISPER_ADMIN_TOKEN_FILE: _token, ...env } = io.env ?? process.env;
  return buildConfig(folder, daemonRaw, { env, ...(io.cwd ? { cwd: io.cwd } : {}) });
}

/** The admin token file the command was given (`--admin-token-file` or its variable), absolute. */
export function tokenFileOf(raw: Record<string, unknown>, io: OpsIo): string | undefined {
  const env = io.env ?? process.env;
  const given = typeof raw.adminTokenFile === 'string' ? raw.adminTokenFile : env.WHISPER_ADMIN_TOKEN_FILE;
  return given ? resolve(io.cwd ?? process.cwd(), given) : undefined;
}

/** The logger of the direct path: to stderr, so that stdout holds the results alone. */
export function commandLogger(config: Config, io: OpsIo): Logger {
  const destination = io.logDestination ??
    (process.stderr.isTTY ? prettyDestination((t) => void process.stderr.write(t)) : pino.destination(2));
  return createLogger({ debug: config.debug, destination });
}

/** Writes the error and returns its exit code: 2 for invalid input, 3 for an unknown certificate, else 1. */
export function failed(name: string, err: unknown, io: OpsIo): number {
  io.stderr(`whisper-ts ${name}: ${errorMessage(err)}\n`);
  if (isWhisperError(err, 'CONFIG_INVALID')) return OPS_EXIT.usage;
  if (isWhisperError(err, 'NOT_FOUND')) return OPS_EXIT.notFound;
  return OPS_EXIT.failure;
}

/** Who acted: the daemon (through its API) or this process. */
export type Via = 'daemon' | 'direct';

/**
 * Runs `act` through the daemon's API when a daemon holds the folder, else directly under the folder lock (taken
 * without waiting, released whatever happens), so that two processes never order the same certificate.
 */
export async function throughDaemonOrDirect<T>(
  folder: string,
  config: Config,
  tokenFile: string | undefined,
  deps: OpsDeps,
  io: OpsIo,
  act: (actions: OpsActions, via: Via) => Promise<T>,
): Promise<T> {
  const daemon = await deps.findDaemon(folder, tokenFile ? { tokenFile } : {});
  if (daemon !== undefined) return act(daemon, 'daemon');
  const log = commandLogger(config, io);
  const lock = await deps.acquireLock(folder, log);
  try {
    const direct = await deps.openDirect(config, log);
    try {
      return await act(direct, 'direct');
    } finally {
      await direct.close();
    }
  } finally {
    await lock.release();
  }
}
