import { readFile } from 'node:fs/promises';
import { superseded } from './lifecycle/supersede.js';
import type { WantedCert } from './plan/types.js';
import { decodeState } from './state/codec.js';
import { statePath } from './state/file.js';
import type { CertState } from './state/types.js';
import type { CertStore } from './store/types.js';

/** A file of the folder that the plan supersedes, as the dry run tells it. */
export interface DryRunSuperseded {
  /** The superseded file's name (`<id>.pem`). */
  readonly file: string;
  /** The files of the plan that hold its names instead. */
  readonly by: readonly string[];
  /** Its names they hold. */
  readonly names: readonly string[];
  /** `remove`: whisper-ts wrote it and removes it once they are written; `keep`: not its own, kept with a warning. */
  readonly action: 'remove' | 'keep';
}

/**
 * The files a run would remove, or keep as duplicates, once every planned certificate is written with its names
 * (see `superseded`): an upgrade from whisper, or from an older file naming, shows here before it happens. Reads
 * the folder and the state file, writes nothing; an unreadable folder or state file gives fewer answers, not an
 * error.
 */
export async function supersededByPlan(certs: readonly WantedCert[], store: CertStore, certDir: string): Promise<DryRunSuperseded[]> {
  const files = await store.list().catch(() => []);
  let saved: Record<string, CertState> = {};
  try {
    saved = decodeState(await readFile(statePath(certDir), 'utf8')).certs;
  } catch {
    // No state (whisper's folder), or an unreadable one: nothing counts as whisper-ts's own.
  }
  const planned = new Set(certs.map((c) => c.id));
  const present = [
    ...certs.map((c) => ({ id: c.id, names: c.names, ours: true })),
    ...files.filter((f) => !planned.has(f.id)).map((f) => ({ id: f.id, names: f.names, ours: saved[f.id]?.written === f.serial })),
  ];
  const verdict = superseded({ wanted: certs, present });
  const line = (action: DryRunSuperseded['action']) => (s: { id: string; by: readonly string[]; shared: readonly string[] }): DryRunSuperseded => ({
    file: `${s.id}.pem`,
    by: s.by.map((id) => `${id}.pem`),
    names: s.shared,
    action,
  });
  return [...verdict.remove.map(line('remove')), ...verdict.foreign.map(line('keep'))].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}
