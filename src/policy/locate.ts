import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { z } from 'zod';

/** A path into the file's data: map keys and list indexes. */
export type DataPath = readonly (string | number)[];

/** `certificates[2].key_type`, `dns.bind.server`: a path as the messages show it. */
export function formatPath(path: DataPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * The 1-based line of `path` in the parsed document: of its key when the path ends on a map key (so an error about a
 * value points at its key), else of the value; the nearest existing parent when the path does not exist (a missing
 * key is reported at its map).
 */
export function lineOf(doc: Document, counter: LineCounter, path: DataPath): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number' && node.items[part] !== undefined) {
      node = node.items[part];
      offset = rangeStart(node) ?? offset;
    } else {
      break;
    }
  }
  return counter.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range?.[0];
}

/** One problem of the file, before it gets a line: where (data path) and what. */
export interface FileProblem {
  readonly path: DataPath;
  readonly message: string;
}

/**
 * zod's issues as {@link FileProblem}s: an unknown key is reported at that key ("unknown key"), and a union (a value
 * that may be written in several ways) reports the problem of the way that got furthest, not "invalid input".
 */
export function problemsOf(issues: readonly z.core.$ZodIssue[]): FileProblem[] {
  return issues.flatMap((issue) => expand(issue, []));
}

function expand(issue: z.core.$ZodIssue, prefix: DataPath): FileProblem[] {
  const path = [...prefix, ...(issue.path as (string | number)[])];
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key' }));
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const branch = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
    // A union with its own message ("expected keep or ...") keeps it unless a branch got into the value.
    if (branch.length > 0 && (depth(branch) >= 2 || issue.message === 'Invalid input')) return branch.flatMap((i) => expand(i, path));
  }
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) return [{ path, message: 'missing: this key is required here' }];
  return [{ path, message: issue.message }];
}

/**
 * How far a union branch got: a type mismatch at its root scores 0, another mismatch at its root (a literal) 1, a
 * value of the right type that failed a check (a bad hostname) 2, and a problem deeper in the value more.
 */
function depth(branch: readonly z.core.$ZodIssue[]): number {
  const first = branch[0];
  if (first === undefined) return -1;
  if (first.path.length > 0) return 2 + first.path.length;
  return first.code === 'invalid_type' ? 0 : first.code === 'custom' || first.code === 'too_small' ? 2 : 1;
}
