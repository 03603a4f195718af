import type { Config } from '../config.js';
import { WhisperError, errorMessage, isWhisperError } from '../errors.js';
import type { Logger } from '../log.js';
import { backoffDelay, type Sleep } from '../time.js';
import type { Issuer } from './types.js';

/**
 * Registers the ACME account (or finds it), retrying while the CA is unreachable. A missing e-mail address or a
 * refused registration is final: the daemon cannot work without an account.
 */
export async function ensureAccount(issuer: Issuer, log: Logger, sleep: Sleep, signal: AbortSignal, before?: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await before?.();
      await issuer.ensureAccount(signal);
      return;
    } catch (err) {
      if (signal.aborted) throw new WhisperError('ABORTED', 'stopped before the account was ready', { cause: err });
      if (!isWhisperError(err) || !err.retryable) throw err;
      const delay = Math.max(backoffDelay(attempt, { baseMs: 2000, maxMs: 300_000 }), (err.retryAfter?.getTime() ?? 0) - Date.now());
      log.warn({ code: err.code, attempt, retryInMs: delay }, `ACME account not ready: ${errorMessage(err)}`);
      await sleep(delay, signal);
    }
  }
}

/** `--profile`, when the CA's directory lists it; otherwise a warning and orders without a profile. */
export async function offeredProfile(config: Config, issuer: Issuer, log: Logger): Promise<string | undefined> {
  if (!config.profile) return undefined;
  const dir = await issuer.directory?.().catch(() => undefined);
  const meta = dir?.meta as { profiles?: Record<string, unknown> } | undefined;
  if (meta?.profiles && config.profile in meta.profiles) return config.profile;
  log.warn({ profile: config.profile, offered: Object.keys(meta?.profiles ?? {}) }, 'the CA does not offer this ACME profile; ordering without one');
  return undefined;
}
