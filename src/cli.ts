import { Command, CommanderError } from 'commander';
import { buildConfig, type Config } from './config.js';
import { addDaemonOptions } from './cli-options.js';
import { createLogger, type Logger } from './log.js';
import type { DestinationStream } from 'pino';
import { WhisperError, errorMessage, isWhisperError } from './errors.js';
import { runDaemon, type DaemonParts } from './daemon.js';
import { consulFromConfig, storeFromConfig } from './from-config.js';
import { dryRun, formatDryRun } from './dryrun.js';
import { limitsCommand, statusCommand } from './commands.js';
import { dnsPersistCommand } from './dns-persist-command.js';
import { checkConfigCommand } from './check-config-command.js';
import { historyCommand } from './history-command.js';
import { isOpsCommand, opsCommand } from './ops-commands.js';
import { LETSENCRYPT } from './options.js';
import { VERSION } from './version.js';
import { DASH_D_RULE, whisperArgv } from './whisper-argv.js';

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** What {@link main} needs from its process; tests pass their own. */
export interface MainIo {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  /** Stops the daemon; by default SIGTERM and SIGINT. */
  readonly signal?: AbortSignal;
  /** Where logs go (a pino destination); stdout by default. */
  readonly logDestination?: DestinationStream;
  /** Parts to use instead of building them (tests). */
  readonly parts?: DaemonParts;
}

function program(io: Required<Pick<MainIo, 'stdout' | 'stderr'>>): Command {
  const cmd = new Command('whisper-ts')
    .description('Keeps TLS certificates for every web service registered in Consul (ACME DNS-01), in HAProxy\'s folder.\n' +
      'Also: whisper-ts status <folder> [--json], whisper-ts limits <folder> [--json], whisper-ts dns-persist <folder> [--json], whisper-ts check-config <file> [--json],\n' +
      'whisper-ts history <folder>, whisper-ts renew <folder> <cert> [--force], whisper-ts revoke <folder> <cert> --yes [--reason <name>],\n' +
      'whisper-ts account <folder> show|rollover|deactivate, whisper-ts import <folder> <pem>... (each: whisper-ts <command> --help).')
    .version(VERSION)
    .argument('[path_to_cert_folder]', 'folder of the certificates (HAProxy `crt <dir>`) and the ACME account (.acme)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(whisper-ts --help lists every option)')
    .addHelpText('after', `\nBoth generations of whisper's command line work: ${DASH_D_RULE}\n` +
      'whisper\'s first release also took the folder as -o/--output-certs <folder> and --acme-staging for -s.\n');
  return addDaemonOptions(cmd);
}

/** `status` and `limits`: read the folder, print, change nothing. */
async function offline(argv: readonly string[], io: Required<Pick<MainIo, 'stdout' | 'stderr'>>): Promise<number> {
  const name = argv[0] as 'status' | 'limits';
  const cmd = new Command(`whisper-ts ${name}`)
    .description(name === 'status'
      ? 'every certificate in the folder: names, issuer, expiry, next renewal (ARI or not), last error'
      : 'the rate-limit budget: what is left in each bucket and when the next slot opens')
    .argument('<path_to_cert_folder>')
    .option('--json', 'one JSON document for machines')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  if (name === 'status') {
    cmd.option('--renew-before <days|percent>', 'the rule the daemon runs with, when ARI is not used');
    cmd.option('--directory-url <url>', 'the CA the daemon runs with: certificates of another CA show as due (default: ACME_DIRECTORY_URL, else Let\'s Encrypt)');
    cmd.option('-s, --staging', 'the daemon runs with Let\'s Encrypt staging');
  }
  else cmd.option('--rate-limits <spec>', 'the CA\'s limits (as for the daemon)', 'letsencrypt');
  try {
    cmd.parse(argv.slice(1), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  const raw = cmd.opts<{ json?: boolean; renewBefore?: string; rateLimits?: string; directoryUrl?: string; staging?: boolean }>();
  const { staging, directoryUrl, ...rest } = raw;
  const ca = staging ? LETSENCRYPT.staging : directoryUrl ?? process.env.WHISPER_DIRECTORY_URL ?? process.env.ACME_DIRECTORY_URL ?? LETSENCRYPT.production;
  const opts = name === 'status' ? { ...rest, directoryUrl: ca } : rest;
  const dir = cmd.args[0]!;
  try {
    const o = { ...io, ...opts };
    return name === 'status' ? await statusCommand(dir, o) : await limitsCommand(dir, o);
  } catch (err) {
    io.stderr(`whisper-ts ${name}: ${errorMessage(err)}\n`);
    return isWhisperError(err, 'CONFIG_INVALID') ? EXIT.usage : EXIT.failure;
  }
}

/**
 * The daemon's command line (both whisper generations, see `whisperArgv`) and environment → its {@link Config}, or the
 * exit code when there is nothing to run: 0 after `--help`/`--version`, 2 for invalid options, 1 when a file they name
 * cannot be read (the message is written).
 */
export function parseCommandLine(argv: readonly string[], io: MainIo & Required<Pick<MainIo, 'stdout' | 'stderr'>>): Config | number {
  const cmd = program(io);
  const env = io.env ?? process.env;
  try {
    cmd.parse(whisperArgv(argv, { folderFromEnv: Boolean(env.WHISPER_CERT_FOLDER) }), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  try {
    return buildConfig(cmd.args[0], cmd.opts(), { env, ...(io.cwd ? { cwd: io.cwd } : {}) });
  } catch (err) {
    io.stderr(`whisper-ts: ${errorMessage(err)}\n`);
    return isWhisperError(err, 'CONFIG_INVALID') ? EXIT.usage : EXIT.failure;
  }
}

function defaultSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return controller.signal;
}

/**
 * The command line: parse, build the config, run the daemon (or the dry run). Resolves with the exit code:
 * 0 after a clean stop, 2 for invalid options, 1 for a fatal error.
 */
export async function main(argv: readonly string[], io: MainIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = io.stderr ?? ((t: string) => void process.stderr.write(t));
  if (argv[0] === 'status' || argv[0] === 'limits') return offline(argv, { stdout, stderr });
  if (argv[0] === 'dns-persist') return dnsPersistCommand(argv, { stdout, stderr });
  if (isOpsCommand(argv[0])) return opsCommand(argv, { stdout, stderr, ...(io.env ? { env: io.env } : {}), ...(io.cwd ? { cwd: io.cwd } : {}), ...(io.logDestination ? { logDestination: io.logDestination } : {}) });
  if (argv[0] === 'history') return historyCommand(argv, { stdout, stderr });
  if (argv[0] === 'check-config') return checkConfigCommand(argv, { stdout, stderr, ...(io.env ? { env: io.env } : {}), ...(io.cwd ? { cwd: io.cwd } : {}) });
  const parsed = parseCommandLine(argv, { ...io, stdout, stderr });
  if (typeof parsed === 'number') return parsed;
  const config = parsed;
  const log: Logger = createLogger({ debug: config.debug, ...(io.logDestination ? { destination: io.logDestination } : {}) });
  try {
    if (config.dryrun) {
      const consul = io.parts?.consul ?? consulFromConfig(config);
      const store = io.parts?.store ?? storeFromConfig(config, log);
      stdout(formatDryRun(await dryRun(config, consul, store, log)));
      return EXIT.ok;
    }
    await runDaemon(config, log, io.signal ?? defaultSignal(), io.parts);
    return EXIT.ok;
  } catch (err) {
    if (isWhisperError(err, 'ABORTED')) return EXIT.ok;
    const code = err instanceof WhisperError ? err.code : 'INTERNAL';
    log.fatal({ code }, errorMessage(err));
    stderr(`whisper-ts: ${errorMessage(err)}\n`);
    // An option only the daemon's start could judge (a target's URL or files) is still an invalid option.
    return code === 'CONFIG_INVALID' ? EXIT.usage : EXIT.failure;
  }
}
