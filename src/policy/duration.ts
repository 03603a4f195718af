const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A duration of the config file: a whole number and a unit, `s`, `m`, `h`, `d` or `w` (`90m`, `12h`, `30d`, `2w`),
 * in milliseconds; `undefined` for anything else (no unit, zero, a fraction, more than ten years).
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d{1,6})\s*([smhdw])\s*$/.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * (UNITS[match[2]!] ?? 0);
  return ms > 0 && ms <= 3650 * UNITS.d! ? ms : undefined;
}

/** A duration in the largest unit that divides it (`2592000000` → `30d`), for `check-config`. */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's']) {
    const size = UNITS[unit]!;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
