import { WhisperError } from '../errors.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Consul's ceiling on a blocking query's wait; longer values are cut to this by the server. */
export const MAX_CONSUL_WAIT_MS = 600_000;

/** Consul's wait when a blocking query names none. */
export const DEFAULT_CONSUL_WAIT = '5m';

/** Milliseconds of a Consul duration such as `5m`, `30s`, `500ms` (a bare number is seconds, as Consul reads it). */
export function parseConsulDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new WhisperError('CONFIG_INVALID', `Consul wait ${JSON.stringify(text)}: expected a duration such as 30s or 5m`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

/**
 * How long to let a blocking query run before giving up on it: Consul answers after `wait` plus a random extra of
 * up to wait/16 (to spread clients), so allow that, plus `marginMs` for the network.
 */
export function blockingTimeoutMs(wait: string, marginMs: number): number {
  const waitMs = Math.min(parseConsulDuration(wait), MAX_CONSUL_WAIT_MS);
  return waitMs + Math.ceil(waitMs / 16) + marginMs;
}
