import { Command, CommanderError, Option } from 'commander';
import { buildConfig } from './config.js';
import { OPTIONS } from './options.js';
import { errorMessage, isWhisperError } from './errors.js';
import type { ConsulApi } from './consul/api.js';
import { consulFromConfig } from './consul/from-config.js';
import { planOnce } from './plan-once.js';
import { loadPolicyFile, type ReadTextFile } from './policy/file.js';
import { checkConfigReport, formatCheckConfig, formatCheckConfigJson } from './policy/report.js';

/** What {@link checkConfigCommand} needs from its process; tests pass their own. */
export interface CheckConfigIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Working directory relative paths are resolved against. @default process.cwd() */
  readonly cwd?: string;
  /** The Consul client to use instead of one built from the options (tests). */
  readonly consul?: ConsulApi;
  /** Reads the config file and its secret files. @default fs.readFile utf8 */
  readonly readFile?: ReadTextFile;
}

function command(io: CheckConfigIo): Command {
  const cmd = new Command('whisper-ts check-config')
    .description('validate a --config file and print what each certificate wanted now would get (zone, DNS back end, challenge, key, targets, file name); no CA, no DNS, nothing written.\n' +
      'Takes the daemon\'s options and environment (Consul, allow-list, --domain, --listen-path, DOMAINS, and the per-certificate options the file\'s defaults give way to).')
    .argument('<file>', 'the config file')
    .option('--json', 'one JSON document for machines')
    .option('--offline', 'do not read Consul: validate the file and show its static certificates only')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const spec of OPTIONS) {
    if (spec.key === 'config') continue;
    const opt = new Option(spec.flags, spec.help);
    if (spec.list) opt.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    cmd.addOption(opt);
  }
  return cmd;
}

/**
 * `whisper-ts check-config <file> [options] [--json] [--offline]`. Exit 0 when the file and the options are valid
 * (problems of services' tags are printed, as the daemon logs them, and do not fail it), 2 when the file or an option
 * is invalid (the message names the file, line and key), 1 when Consul cannot be read.
 */
export async function checkConfigCommand(argv: readonly string[], io: CheckConfigIo): Promise<number> {
  const cmd = command(io);
  try {
    cmd.parse(argv.slice(1), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const { json, offline, ...raw } = cmd.opts<{ json?: boolean; offline?: boolean } & Record<string, unknown>>();
  const path = cmd.args[0]!;
  try {
    const config = buildConfig('.', { ...raw, config: path }, { env: io.env ?? process.env, ...(io.cwd ? { cwd: io.cwd } : {}) });
    const file = await loadPolicyFile(config.configFile ?? path, io.readFile);
    const consul = offline ? undefined : (io.consul ?? consulFromConfig(config));
    let plan;
    try {
      plan = await planOnce(config, file, consul);
    } finally {
      if (io.consul === undefined) consul?.close?.();
    }
    const report = checkConfigReport(config, { ...file, path }, plan, consul !== undefined);
    io.stdout(json ? formatCheckConfigJson(report) : formatCheckConfig(report));
    return 0;
  } catch (err) {
    io.stderr(`whisper-ts check-config: ${errorMessage(err)}\n`);
    return isWhisperError(err, 'CONFIG_INVALID') ? 2 : 1;
  }
}
