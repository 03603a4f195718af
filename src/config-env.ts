import { OPTIONS, type OptionSpec } from './options.js';

type Raw = Record<string, unknown>;
type Env = Readonly<Record<string, string | undefined>>;

/** The long flag of an option, e.g. `--consul`. */
export function flagName(spec: OptionSpec): string {
  return spec.flags.split(/[ ,]+/).find((f) => f.startsWith('--')) ?? spec.key;
}

export function envValue(spec: OptionSpec, env: Env): { name: string; value: string } | undefined {
  for (const name of spec.env) {
    const value = env[name];
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

/**
 * whisper's images set `DEBUG="-d"` (first release) or `DEBUG="--debug"` (last release) and `STAGING="-s"`. `DEBUG` is also the `debug` package's namespace list
 * (`DEBUG=express:*`), so it counts only as `-d`, `--debug`, 1, true or yes; other variables count unless 0, false, no or off.
 */
function envBool(name: string, value: string): boolean {
  const v = value.trim();
  if (name === 'DEBUG') return /^(-d|--debug|1|true|yes)$/i.test(v);
  return !/^(0|false|no|off)$/i.test(v);
}

/** Merges flags, environment and defaults: the flag wins, then the first environment variable set, then the default. */
export function resolveOptions(raw: Raw, env: Env): Record<string, string | boolean | string[] | undefined> {
  const out: Record<string, string | boolean | string[] | undefined> = {};
  for (const spec of OPTIONS) {
    const given = raw[spec.key];
    const fromEnv = envValue(spec, env);
    if (spec.bool) {
      if (given === true) out[spec.key] = true;
      else if (fromEnv) out[spec.key] = envBool(fromEnv.name, fromEnv.value);
      else out[spec.key] = false;
    } else if (spec.list) {
      const list = Array.isArray(given) && given.length > 0 ? (given as string[]) : fromEnv?.value.split(',');
      out[spec.key] = (list ?? (spec.default ? [spec.default] : [])).map((s) => s.trim()).filter(Boolean);
    } else {
      out[spec.key] = typeof given === 'string' ? given : (fromEnv?.value ?? spec.default);
    }
  }
  return out;
}

