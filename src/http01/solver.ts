import { WhisperError } from '../errors.js';
import { isAcmeToken, isKeyAuthorization } from './token.js';

/**
 * Answers HTTP-01 challenges: makes `http://<name>/.well-known/acme-challenge/<token>` return the key authorization
 * while the order runs. The I/O edge of the challenge, like `DnsProvider` for DNS-01.
 */
export interface Http01Solver {
  /** Short name for logs: `memory`, `consul-kv`, `webroot`. */
  readonly name: string;
  /** Serve `keyAuthorization` for `token` from now on. Safe to repeat. A secret until validated: never logged. */
  present(token: string, keyAuthorization: string, signal?: AbortSignal): Promise<void>;
  /** Stop serving `token`. A token that is not there counts as removed. */
  cleanUp(token: string, signal?: AbortSignal): Promise<void>;
}

/** What the responder asks: the key authorization of a token, or `undefined` when none is presented. */
export type Http01Lookup = (token: string, signal?: AbortSignal) => Promise<string | undefined>;

/** A solver whose tokens the built-in responder reads (in memory, or in Consul KV under `--ha`). */
export interface Http01Store extends Http01Solver {
  readonly lookup: Http01Lookup;
}

/** Throws `HTTP01` unless the token and key authorization are well-formed (before any file, key or map sees them). */
export function checkToken(token: string, keyAuthorization?: string): void {
  // The token goes into a file name or a KV key: nothing but base64url gets there. It is public (the CA sent it).
  if (!isAcmeToken(token)) throw new WhisperError('HTTP01', `not an ACME token: ${JSON.stringify(token.slice(0, 80))}`);
  if (keyAuthorization !== undefined && !isKeyAuthorization(keyAuthorization)) {
    throw new WhisperError('HTTP01', `the key authorization of token ${token} is not printable ASCII`);
  }
}
