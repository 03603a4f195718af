/** Services by name with their tags (sorted, unique). */
export type ServiceTags = ReadonlyMap<string, readonly string[]>;

/** What {@link applyCatalog} changed in the snapshot. */
export interface CatalogDiff {
  /** Services new in it or whose tag set differs. */
  readonly changed: Set<string>;
  /** Services gone from it. */
  readonly removed: Set<string>;
}

/** True when every tag is greater than the one before: already sorted and unique, as Consul usually sends them. */
function sortedUnique(tags: readonly string[]): boolean {
  for (let i = 1; i < tags.length; i++) if (!((tags[i - 1] as string) < (tags[i] as string))) return false;
  return true;
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Brings `snapshot` up to Consul's answer `raw`, in place, and says what changed: each service's tags sorted and
 * unique (so tag lists compare as sets); on an empty snapshot every service is changed. Consul answers every
 * change with the whole catalog, so this runs over every service each time: it writes and allocates nothing for
 * a service whose tags did not change, and sorts only what is not sorted yet.
 */
export function applyCatalog(snapshot: Map<string, readonly string[]>, raw: Readonly<Record<string, readonly string[]>>): CatalogDiff {
  const changed = new Set<string>();
  const sizeBefore = snapshot.size;
  let kept = 0;
  for (const name of Object.keys(raw)) {
    const got = raw[name] ?? [];
    const tags = sortedUnique(got) ? got : [...new Set(got)].sort();
    const before = snapshot.get(name);
    if (before !== undefined) kept++;
    if (before === undefined || !sameTags(before, tags)) {
      snapshot.set(name, tags);
      changed.add(name);
    }
  }
  const removed = new Set<string>();
  // Every service of the snapshot that is still in the answer was counted in `kept`: fewer means some went away.
  if (kept < sizeBefore) {
    for (const name of snapshot.keys()) {
      if (!Object.hasOwn(raw, name)) {
        snapshot.delete(name);
        removed.add(name);
      }
    }
  }
  return { changed, removed };
}
