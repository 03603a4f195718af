import { WhisperError } from '../errors.js';
import { pickInWindow, type RenewalWindow } from '../acme/ari.js';
import { renewalTime } from './rule.js';

const DAY = 86_400_000;

/** `--renew-before`: renew this many days before expiry, or when this percentage of the lifetime is left. */
export type RenewBefore = { readonly days: number } | { readonly percent: number };

/**
 * Parse `--renew-before`: `30d` or `30` (days before expiry), `33%` (percentage of the lifetime left).
 * Throws `CONFIG_INVALID` naming the option on anything else (zero, negative, 100 % or more, junk).
 */
export function parseRenewBefore(text: string): RenewBefore {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(d|%)?\s*$/i.exec(text);
  const value = match ? Number(match[1]) : NaN;
  const unit = match?.[2] === '%' ? 'percent' : 'days';
  if (!Number.isFinite(value) || value <= 0 || (unit === 'percent' && value >= 100)) {
    throw new WhisperError(
      'CONFIG_INVALID',
      `--renew-before: "${text}" is not a number of days (30d, 30) or a percentage of the lifetime left (33%) between 0 and 100`,
    );
  }
  return unit === 'percent' ? { percent: value } : { days: value };
}

/** The ARI window of a certificate, with the moment picked in it earlier (kept so sweeps do not re-draw it). */
export interface AriChoice extends RenewalWindow {
  /** A moment drawn earlier for this window; reused when it still lies inside the window. */
  readonly chosen?: Date;
}

/** Options of {@link nextRenewal}. */
export interface NextRenewalOptions {
  /** The CA's suggested window; absent when the CA has no ARI or it failed. It wins over `renewBefore`. */
  ari?: AriChoice;
  /** The operator's rule when ARI is unavailable. @default one third of the lifetime left */
  renewBefore?: RenewBefore;
  /** Uniform in [0, 1). */
  random: () => number;
  /** Milliseconds since the epoch. */
  now: () => number;
}

/** When to renew, and which rule decided. */
export interface RenewalPlan {
  /** May be in the past for the lifetime rules: renew now. */
  readonly at: Date;
  readonly source: 'ari' | 'fraction' | 'days';
}

/**
 * When a certificate should be renewed. With an ARI window: a random moment in it (or the one drawn earlier,
 * while it is still inside the window), `now` once the window has begun, and never in the last tenth of the
 * lifetime. Without: `renewBefore` days before
 * `notAfter` or its percentage of the lifetime left, by default a third of the lifetime left. A `days`
 * rule as long as the lifetime itself (30 days on a 6-day certificate) would renew without end, so the
 * one-third rule applies then.
 */
export function nextRenewal(
  cert: { readonly notBefore: Date; readonly notAfter: Date; readonly certPem?: string },
  opts: NextRenewalOptions,
): RenewalPlan {
  const now = opts.now();
  if (opts.ari) {
    const { start, end, chosen } = opts.ari;
    const kept = chosen && chosen.getTime() >= start.getTime() && chosen.getTime() < end.getTime();
    const at = kept ? new Date(Math.max(chosen.getTime(), now)) : pickInWindow(opts.ari, opts.random, now);
    // A window that runs up to the expiry (a test CA's, a short-lived certificate's) could put the renewal in the
    // certificate's last second: keep a tenth of the lifetime for the order itself and its retries.
    const latest = cert.notAfter.getTime() - (cert.notAfter.getTime() - cert.notBefore.getTime()) / 10;
    return { at: at.getTime() > latest ? new Date(Math.max(latest, now)) : at, source: 'ari' };
  }
  const rule = opts.renewBefore;
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  if (rule && 'days' in rule && rule.days * DAY < lifetime) {
    return { at: new Date(cert.notAfter.getTime() - rule.days * DAY), source: 'days' };
  }
  const fractionLeft = rule && 'percent' in rule ? rule.percent / 100 : undefined;
  return { at: renewalTime(cert, fractionLeft === undefined ? {} : { fractionLeft }), source: 'fraction' };
}
