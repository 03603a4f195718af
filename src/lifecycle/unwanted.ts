import type { OnRemoval } from '../policy/types.js';

/** A certificate file of the folder, as the removal policy sees it. */
export interface UnwantedFile {
  readonly id: string;
  /** Whether whisper-ts wrote it (the state records its serial): only such files are ever deleted. */
  readonly ours: boolean;
  /** When the plan stopped wanting it (ms), if it did. */
  readonly unwantedSince?: number;
  /** Its policy's `on_removal`. */
  readonly onRemoval: OnRemoval;
}

/** What {@link dueForRemoval} decides. */
export interface RemovalVerdict {
  /** Ids whose files go now. */
  readonly due: readonly string[];
  /** The earliest moment (ms) another file falls due, if one will. */
  readonly nextAt?: number;
}

/**
 * Which files of certificates nobody wants any more are deleted now, by their policy's `on_removal` (pure): a file
 * whisper-ts wrote, unwanted for at least its `delete_after`. `keep` (whisper's behaviour, the default), a file
 * whisper-ts did not write, a wanted id, or one with no time of becoming unwanted (a file found at start whose
 * services were never seen: judged from when this run first saw it unwanted) is never due.
 */
export function dueForRemoval(files: readonly UnwantedFile[], wanted: ReadonlySet<string>, now: number): RemovalVerdict {
  const due: string[] = [];
  let nextAt: number | undefined;
  for (const f of files) {
    if (f.onRemoval.kind !== 'delete' || !f.ours || wanted.has(f.id) || f.unwantedSince === undefined) continue;
    const at = f.unwantedSince + f.onRemoval.afterMs;
    if (now >= at) due.push(f.id);
    else nextAt = nextAt === undefined ? at : Math.min(nextAt, at);
  }
  return { due, ...(nextAt !== undefined ? { nextAt } : {}) };
}
