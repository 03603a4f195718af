import { Option, type Command } from 'commander';
import { OPTIONS } from './options.js';

/**
 * Adds every daemon option (the table of `options.ts`) to `cmd`, with its environment variables and default in the
 * help, as the daemon's command line shows them. The defaults themselves are applied by `buildConfig` (after the
 * environment), so commander keeps `undefined` for an option not given.
 * @param except keys of options left out (a command that defines its own). @default none
 */
export function addDaemonOptions(cmd: Command, except: readonly string[] = []): Command {
  for (const spec of OPTIONS) {
    if (except.includes(spec.key)) continue;
    const opt = new Option(spec.flags, `${spec.help}${spec.env.length ? ` [env: ${spec.env.join(', ')}]` : ''}`);
    if (spec.default !== undefined) opt.default(undefined, spec.default);
    if (spec.list) opt.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    cmd.addOption(opt);
  }
  return cmd;
}
