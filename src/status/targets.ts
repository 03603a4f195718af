import type { CertError, WhisperState } from '../state/types.js';

/** What `status` shows of one target for one certificate. */
export interface TargetStatus {
  /** Serial the target last took. */
  readonly delivered?: string;
  /** When it took it. */
  readonly at?: Date;
  /** The last failure since then. */
  readonly lastError?: CertError;
  /** Failed attempts since the last success. */
  readonly attempts: number;
  /** Whether something is still to do: the file's serial is not the delivered one, or a removal is to be done. */
  readonly pending: boolean;
  /** Set when the certificate was removed from the folder and the target still holds it. */
  readonly removing?: boolean;
}

/**
 * The `targets` field of a status row: per target that recorded something for certificate `id`, whose file holds
 * `serial` (absent: no file). Empty object → no field.
 */
export function targetStatus(state: WhisperState, id: string, serial: string | undefined): { targets?: Record<string, TargetStatus> } {
  const out: Record<string, TargetStatus> = {};
  for (const name of Object.keys(state.targets ?? {}).sort()) {
    const r = state.targets?.[name]?.[id];
    if (!r) continue;
    const removing = r.removing !== undefined;
    out[name] = {
      ...(r.delivered !== undefined ? { delivered: r.delivered } : {}),
      ...(r.at ? { at: r.at } : {}),
      ...(r.lastError ? { lastError: r.lastError } : {}),
      attempts: r.attempts ?? 0,
      pending: removing || (serial !== undefined && r.delivered !== serial),
      ...(removing ? { removing: true } : {}),
    };
  }
  return Object.keys(out).length > 0 ? { targets: out } : {};
}

/** The TARGETS cell: `-` without targets, `2/2` when all are up to date, else the count and the first trouble. */
export function targetCell(targets: Readonly<Record<string, TargetStatus>> | undefined): string {
  const all = Object.entries(targets ?? {});
  if (all.length === 0) return '-';
  const done = all.filter(([, t]) => !t.pending).length;
  const trouble = all.find(([, t]) => t.pending);
  if (!trouble) return `${done}/${all.length}`;
  const [name, t] = trouble;
  return `${done}/${all.length} (${name} ${t.removing ? 'removal pending' : 'pending'}${t.lastError ? `: ${t.lastError.code}` : ''})`;
}
