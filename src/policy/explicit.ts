import { envValue } from '../config-env.js';
import { OPTIONS } from '../options.js';

/**
 * The keys of the options given by flag (`raw`, commander's values: a default is `undefined` there) or by
 * environment, as opposed to left to their default. The config file's `defaults:` apply only to the others.
 */
export function explicitKeys(raw: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>): string[] {
  return OPTIONS.filter((spec) => {
    const given = raw[spec.key];
    const fromFlag = given !== undefined && given !== false && !(Array.isArray(given) && given.length === 0);
    return fromFlag || envValue(spec, env) !== undefined;
  }).map((spec) => spec.key);
}
