import { WhisperError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Http01Solver } from '../http01/solver.js';

/** One HTTP-01 token of an order and what it must answer. */
export interface Http01Token {
  readonly token: string;
  /** A secret until validated: never logged. */
  readonly keyAuthorization: string;
}

/**
 * Fails before the order is created when HTTP-01 cannot answer it: no solver (`--http01-listen` or
 * `--http01-webroot`), or a wildcard name (RFC 8555 §7.1.3: only DNS challenges can prove a wildcard). Not retryable:
 * the options or the certificate's policy must change.
 */
export function checkHttp01Order(what: string, names: readonly string[], solver: Http01Solver | undefined): Http01Solver {
  const wildcards = names.filter((n) => n.startsWith('*.'));
  if (wildcards.length > 0) {
    throw new WhisperError('ACME_ORDER', `${what}: ${wildcards.join(', ')}: a wildcard name cannot be validated with http-01; use dns-01 or dns-persist-01`);
  }
  if (!solver) throw new WhisperError('CONFIG_INVALID', `${what}: http-01 needs --http01-listen or --http01-webroot`);
  return solver;
}

/** The challenge's `token` (checked by the solver before it reaches a file or a key). */
export function challengeToken(what: string, challenge: object): string {
  const token = (challenge as { token?: unknown }).token;
  if (typeof token !== 'string') throw new WhisperError('ACME_BAD_RESPONSE', `${what}: the http-01 challenge has no token`);
  return token;
}

/** Presents every token of the order at once. */
export async function presentTokens(solver: Http01Solver, tokens: readonly Http01Token[], signal?: AbortSignal): Promise<void> {
  await Promise.all(tokens.map((t) => solver.present(t.token, t.keyAuthorization, signal)));
}

/**
 * Removes every token of the order (those never presented too: removing a missing one succeeds). Not on the order's
 * signal: an aborted order removes its tokens too. Never rejects: a failure is logged (naming the token only).
 */
export async function removeTokens(solver: Http01Solver, tokens: readonly Http01Token[], log: Logger, certId: string): Promise<void> {
  if (tokens.length === 0) return;
  log.debug({ certId, step: 'http01.cleanUp', tokens: tokens.length }, 'ACME step');
  const results = await Promise.allSettled(tokens.map((t) => solver.cleanUp(t.token)));
  results.forEach((r, i) => {
    if (r.status === 'rejected') log.warn({ certId, solver: solver.name, token: tokens[i]?.token, err: errorMessage(r.reason) }, 'could not remove an HTTP-01 token');
  });
}
