import type { Config } from '../config.js';
import type { PolicyFile } from './file-types.js';
import type { PolicyCertificate } from './match.js';
import { basePolicy, resolvePolicy } from './resolve.js';
import type { CertPolicy } from './types.js';

/**
 * The config file in force and the policy of each certificate under it. A reload swaps the file: what is decided
 * from then on follows it (orders already running finish as they started).
 */
export class PolicyHolder {
  #file: PolicyFile | undefined;
  #base: CertPolicy;

  constructor(
    private readonly config: Config,
    file: PolicyFile | undefined,
  ) {
    this.#file = file;
    this.#base = basePolicy(config, file);
  }

  /** The file in force, if any. */
  get file(): PolicyFile | undefined {
    return this.#file;
  }

  /** The policy of `cert` now (see `resolvePolicy`). */
  policyOf(cert: PolicyCertificate): CertPolicy {
    return resolvePolicy(cert, this.#file, this.#base);
  }

  /** A valid new file takes effect. */
  update(file: PolicyFile): void {
    this.#file = file;
    this.#base = basePolicy(this.config, file);
  }
}
