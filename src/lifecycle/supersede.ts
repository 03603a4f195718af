/**
 * When a file of the certificate folder is superseded, and may go: the pure rule behind the safe transitions
 * between whisper's file names (`www.<zone>.pem` ⇄ `multi-hosts.<zone>.pem` as a zone grows to two vhosts or
 * shrinks to one). HAProxy's `crt <dir>` loads every file: two certificates for one name must not stay there, and no
 * wanted name may be left without a file in between, so the new file is written first and the old one removed after.
 */

/** A certificate wanted by the plan: its id and names. */
export interface SupersedeWanted {
  readonly id: string;
  readonly names: readonly string[];
}

/** A certificate file in the folder. */
export interface SupersedeFile {
  readonly id: string;
  /** The names of the certificate in the file (not the names wanted for its id). */
  readonly names: readonly string[];
  /** Whether whisper-ts wrote it (the state records its serial); only such files are ever removed. */
  readonly ours: boolean;
}

/** What the rule asks for. */
export interface SupersedeInput {
  /** The plan's certificates. */
  readonly wanted: readonly SupersedeWanted[];
  /**
   * Files in the folder: at least the files of unwanted ids to judge, and the files of wanted ids that may cover
   * their names (a file left out counts as absent, so it can only delay a removal).
   */
  readonly present: readonly SupersedeFile[];
  /**
   * Id of the certificate just written: only files sharing a name with its file are judged. Absent (the sweep):
   * files sharing a name with any present file of a wanted certificate.
   */
  readonly written?: string;
}

/** One superseded file. */
export interface Superseded {
  /** The superseded file's id. */
  readonly id: string;
  /** Its names that the wanted files sharing them hold too (sorted). */
  readonly shared: readonly string[];
  /** Ids of the wanted files that share those names (sorted): the files that replace it. */
  readonly by: readonly string[];
}

/** The verdict: files to remove, and duplicates that are not ours, to report only. */
export interface SupersedeVerdict {
  /** Superseded files whisper-ts wrote: remove them (their other formats and their state entry too). */
  readonly remove: readonly Superseded[];
  /** Superseded files whisper-ts did not write (whisper's, or copied in by hand): never removed, reported. */
  readonly foreign: readonly Superseded[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Which files are superseded. A file Y is when: its id is not wanted by the plan; it shares a name with the file
 * just written (or, at the sweep, with any present file of a wanted certificate); and every name of Y that the plan
 * still wants is held by a present file of a wanted certificate. Y then goes in `remove` when whisper-ts wrote it,
 * else in `foreign`. A file none of whose names is wanted any more shares no name with a wanted file and is kept,
 * as every file no longer wanted is. A name is covered only by a file holding that very name (`*.<zone>` does not
 * cover `www.<zone>`). Pure; both lists are sorted by id.
 */
export function superseded(input: SupersedeInput): SupersedeVerdict {
  const wantedIds = new Set(input.wanted.map((w) => w.id));
  const wantedNames = new Set(input.wanted.flatMap((w) => w.names));
  /** Name → ids of present files of wanted certificates holding it. */
  const holders = new Map<string, string[]>();
  for (const file of input.present) {
    if (!wantedIds.has(file.id)) continue;
    for (const name of file.names) {
      const ids = holders.get(name);
      if (ids === undefined) holders.set(name, [file.id]);
      else if (!ids.includes(file.id)) ids.push(file.id);
    }
  }
  const trigger = input.written === undefined ? undefined : input.present.find((f) => f.id === input.written && wantedIds.has(f.id));
  if (input.written !== undefined && trigger === undefined) return { remove: [], foreign: [] };
  const triggerNames = trigger === undefined ? undefined : new Set(trigger.names);

  const remove: Superseded[] = [];
  const foreign: Superseded[] = [];
  const seen = new Set<string>();
  for (const file of input.present) {
    if (wantedIds.has(file.id) || seen.has(file.id)) continue;
    seen.add(file.id);
    const shared = file.names.filter((n) => (triggerNames === undefined ? holders.has(n) : triggerNames.has(n)));
    if (shared.length === 0) continue;
    if (!file.names.every((n) => !wantedNames.has(n) || holders.has(n))) continue;
    const by = [...new Set(shared.flatMap((n) => holders.get(n) ?? []))].sort(byString);
    const entry: Superseded = { id: file.id, shared: [...new Set(shared)].sort(byString), by };
    (file.ours ? remove : foreign).push(entry);
  }
  const byId = (a: Superseded, b: Superseded): number => byString(a.id, b.id);
  return { remove: remove.sort(byId), foreign: foreign.sort(byId) };
}
