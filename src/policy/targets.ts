import type { Config } from '../config.js';
import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TargetsConfig } from '../targets/config.js';
import { createTargets } from '../targets/factory.js';
import type { Target } from '../targets/types.js';
import { parseTargetUrl } from '../targets/urls.js';
import type { PolicyFile } from './file-types.js';

/** The config file's named targets, built. */
export interface FileTargets {
  /** Targets to add to those of the command line (one already there by name is not built twice). */
  readonly targets: readonly Target[];
  /** File name of a target → the names of the targets it made (an AWS URL may make one per service). */
  readonly names: ReadonlyMap<string, readonly string[]>;
}

/**
 * Builds the `targets:` of the config file with the command line's target options (`--aws-endpoint`, `--ssh-key`,
 * ...). Each entry is built on its own, so its name maps to its targets; a target the command line has already is
 * shared. Nothing is contacted. Throws `CONFIG_INVALID` naming the file and the entry.
 */
export function fileTargets(file: PolicyFile | undefined, config: Config, existing: readonly Target[], log: Logger): FileTargets {
  const targets: Target[] = [];
  const names = new Map<string, string[]>();
  const known = new Set(existing.map((t) => t.name));
  for (const [name, spec] of Object.entries(file?.targets ?? {})) {
    const base: TargetsConfig = config.targets ?? { haproxySockets: [], urls: [], aws: { iamDeleteExpired: false } };
    let built: Target[];
    try {
      const one: TargetsConfig =
        spec.kind === 'url' ? { ...base, haproxySockets: [], urls: [parseTargetUrl(spec.url)] } : { ...base, haproxySockets: [spec.address], urls: [] };
      built = createTargets(one, { certDir: config.certDir, log });
    } catch (err) {
      if (!isWhisperError(err)) throw err;
      throw new WhisperError('CONFIG_INVALID', `${file!.path}: targets.${name}: ${errorMessage(err)}`, { cause: err });
    }
    names.set(name, built.map((t) => t.name));
    for (const t of built) {
      if (known.has(t.name)) continue;
      known.add(t.name);
      targets.push(t);
    }
  }
  return { targets, names };
}

/**
 * Whether target `target` takes certificate `id`: its policy lists no `targets:` (every target), or lists a file
 * target that made it.
 */
export function acceptsTarget(listed: readonly string[] | undefined, names: ReadonlyMap<string, readonly string[]>, target: string): boolean {
  if (listed === undefined) return true;
  return listed.some((n) => names.get(n)?.includes(target) === true);
}
