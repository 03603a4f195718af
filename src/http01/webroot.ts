import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WhisperError, errorMessage } from '../errors.js';
import { checkToken, type Http01Solver } from './solver.js';

/** Options of {@link createWebrootSolver}. */
export interface WebrootSolverOptions {
  /** `--http01-webroot`: the folder a web server serves as `http://<name>/`. */
  readonly dir: string;
}

/** `<webroot>/.well-known/acme-challenge`. */
export function challengeDir(webroot: string): string {
  return join(webroot, '.well-known', 'acme-challenge');
}

/**
 * `--http01-webroot`: writes each token as `<webroot>/.well-known/acme-challenge/<token>` (mode 0644, through a
 * temporary file and a rename, so the web server never serves half a file) and removes it after the challenge.
 * The folders are created when missing (mode 0755). Failures are `HTTP01`, retryable.
 */
export function createWebrootSolver(options: WebrootSolverOptions): Http01Solver {
  const dir = challengeDir(options.dir);
  const fail = (what: string, err: unknown) => new WhisperError('HTTP01', `${what}: ${errorMessage(err)}`, { retryable: true, cause: err });
  return {
    name: 'webroot',
    async present(token, keyAuthorization) {
      checkToken(token, keyAuthorization);
      const file = join(dir, token);
      const temp = join(dir, `.${token}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await mkdir(dir, { recursive: true, mode: 0o755 });
        await writeFile(temp, keyAuthorization, { mode: 0o644, flag: 'wx' });
        // The umask may have taken bits away: the web server's user must read it.
        await chmod(temp, 0o644);
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true }).catch(() => undefined);
        throw fail(`could not write the HTTP-01 token file ${file}`, err);
      }
    },
    async cleanUp(token) {
      checkToken(token);
      const file = join(dir, token);
      try {
        await rm(file, { force: true });
      } catch (err) {
        throw fail(`could not remove the HTTP-01 token file ${file}`, err);
      }
    },
  };
}
