import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** An `--exec-command` hook that publishes into challtestsrv and records each call. */
export interface ChallHook {
  /** The executable to pass to `--exec-command`. */
  readonly hook: string;
  /** Its log: one `action fqdn value` line per call. */
  readonly calls: string;
}

/** Writes the hook into `dir`: `present` sets the TXT value in challtestsrv, `cleanup` clears it. */
export async function writeChallHook(dir: string, managementUrl: string): Promise<ChallHook> {
  const hook = join(dir, 'hook.mjs');
  const calls = join(dir, 'calls.log');
  await writeFile(
    hook,
    `#!/usr/bin/env node
import { appendFileSync } from 'node:fs';
const [action, fqdn, value] = process.argv.slice(2);
appendFileSync(${JSON.stringify(calls)}, action + ' ' + fqdn + ' ' + value + '\\n');
const path = action === 'present' ? '/set-txt' : '/clear-txt';
const res = await fetch(${JSON.stringify(managementUrl)} + path, { method: 'POST', body: JSON.stringify({ host: fqdn, value }) });
process.exit(res.ok ? 0 : 1);
`,
  );
  await chmod(hook, 0o755);
  return { hook, calls };
}
