/** Services by name with their tags (sorted, unique); names in sorted order. */
export type ServiceTags = ReadonlyMap<string, readonly string[]>;

/** Normalizes Consul's answer: services sorted by name, each one's tags sorted and unique. */
export function normalizeServices(services: Readonly<Record<string, readonly string[]>>): ServiceTags {
  const out = new Map<string, readonly string[]>();
  for (const name of Object.keys(services).sort()) {
    out.set(name, [...new Set(services[name])].sort());
  }
  return out;
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/**
 * What differs between two catalog snapshots (both from {@link normalizeServices}, so tag lists compare as sets):
 * `changed` = services new in `next` or whose tags differ, `removed` = services gone. Without `prev`, every service is changed.
 */
export function diffServices(prev: ServiceTags | undefined, next: ServiceTags): { changed: Set<string>; removed: Set<string> } {
  const changed = new Set<string>();
  const removed = new Set<string>();
  for (const [name, tags] of next) {
    const before = prev?.get(name);
    if (before === undefined || !sameTags(before, tags)) changed.add(name);
  }
  for (const name of prev?.keys() ?? []) {
    if (!next.has(name)) removed.add(name);
  }
  return { changed, removed };
}
