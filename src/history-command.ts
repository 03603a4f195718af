import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { errorMessage } from './errors.js';
import { openHistory } from './history/db.js';
import { MAX_QUERY_LIMIT } from './history/query.js';
import { parseSince } from './history/since.js';
import { HISTORY_FILE, HISTORY_KINDS, isHistoryKind, type HistoryKind, type HistoryQuery, type HistoryRow } from './history/types.js';
import { formatTable } from './status/table.js';

/** What {@link historyCommand} writes to, and its clock (for `--since 7d`). */
export interface HistoryCommandIo {
  readonly stdout: (t: string) => void;
  readonly stderr: (t: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

class UsageError extends Error {}

/** `2026-03-01T12:00:00Z`: the time of a row, to the second. */
function time(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

const oneLine = (t: string): string => t.replace(/\s+/g, ' ').trim();

/** The DETAIL cell: why, what failed (code: message, the CA's problem when the message lacks it), where, what. */
export function historyDetail(r: HistoryRow): string {
  const parts: string[] = [];
  if (r.reason) parts.push(r.reason);
  if (r.code || r.message) parts.push(r.code && r.message ? `${r.code}: ${r.message}` : (r.code ?? r.message)!);
  const problem = r.problem?.detail || r.problem?.type;
  if (problem && !r.message?.includes(problem)) parts.push(`problem: ${problem}`);
  if (r.target) parts.push(`target ${r.target}`);
  if (r.serial) parts.push(`serial ${r.serial}`);
  if (r.until) parts.push(`until ${time(r.until)}`);
  if (r.bucket) parts.push(`bucket ${r.bucket}`);
  if (r.by) parts.push(`by ${r.by}`);
  if (r.durationMs !== undefined) parts.push(`${(r.durationMs / 1000).toFixed(1)}s`);
  return oneLine(parts.join('; '));
}

/** The rows as a table, newest first; an INSTANCE column when more than one instance wrote them. */
export function formatHistoryTable(rows: readonly HistoryRow[]): string {
  if (rows.length === 0) return 'no events\n';
  const instances = new Set(rows.map((r) => r.instance)).size > 1;
  return formatTable(
    ['TIME', 'KIND', 'CERTIFICATE', ...(instances ? ['INSTANCE'] : []), 'DETAIL'],
    rows.map((r) => [time(r.at), r.kind, r.cert ?? (r.names?.join(',') || '-'), ...(instances ? [r.instance] : []), historyDetail(r)]),
  );
}

function positiveInt(flag: string, text: string, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} ${JSON.stringify(text)}: a whole number from 1 to ${max}`);
  return n;
}

function kinds(values: readonly string[]): HistoryKind[] {
  const out: HistoryKind[] = [];
  for (const k of values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')) {
    if (!isHistoryKind(k)) throw new UsageError(`--kind ${JSON.stringify(k)}: unknown; one of ${HISTORY_KINDS.join(', ')}`);
    if (!out.includes(k)) out.push(k);
  }
  return out;
}

interface Opts {
  cert?: string;
  since?: string;
  kind?: string[];
  limit?: string;
  before?: string;
  json?: boolean;
}

function toQuery(o: Opts, now: number): HistoryQuery {
  try {
    const kindList = o.kind ? kinds(o.kind) : [];
    return {
      ...(o.cert !== undefined ? { cert: o.cert } : {}),
      ...(o.since !== undefined ? { since: parseSince(o.since, new Date(now)) } : {}),
      ...(kindList.length > 0 ? { kinds: kindList } : {}),
      ...(o.before !== undefined ? { before: positiveInt('--before', o.before, Number.MAX_SAFE_INTEGER) } : {}),
      limit: o.limit !== undefined ? positiveInt('--limit', o.limit, MAX_QUERY_LIMIT) : 100,
    };
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

/**
 * `whisper-ts history <folder> [--cert ID] [--since 7d] [--kind failed,issued] [--limit N] [--before ID] [--json]`:
 * the orders, failures, deliveries and operator's actions the daemon recorded in `.whisper-history.sqlite`, newest
 * first. Reads the file only (never creates or migrates it), also while the daemon writes. Exit 0 (also when there
 * is no history yet), 2 for invalid options, 1 when the folder or the database cannot be read.
 */
export async function historyCommand(argv: readonly string[], io: HistoryCommandIo): Promise<number> {
  const cmd = new Command('whisper-ts history')
    .description('what the daemon did: orders, issuances, failures (with the CA\'s problem), deferrals, deliveries and operator\'s actions, newest first')
    .argument('<path_to_cert_folder>')
    .option('--cert <id>', 'only this certificate (its file\'s base name)')
    .option('--since <when>', 'only events since: a duration back from now (30m, 12h, 7d, 2w) or an ISO date or date-time (UTC unless it has an offset)')
    .option('--kind <kinds>', `only these kinds, comma-separated (repeatable): ${HISTORY_KINDS.join(', ')}`, (v: string, p: string[] = []) => [...p, v])
    .option('--limit <n>', `at most this many events (up to ${MAX_QUERY_LIMIT})`, '100')
    .option('--before <id>', 'only events older than this id (the next page: the last id of this one, see --json)')
    .option('--json', 'one JSON document for machines: { "rows": [...] }')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  try {
    cmd.parse(argv.slice(1), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const o = cmd.opts<Opts>();
  const dir = cmd.args[0]!;
  let query: HistoryQuery;
  try {
    query = toQuery(o, (io.now ?? Date.now)());
  } catch (err) {
    io.stderr(`whisper-ts history: ${errorMessage(err)}\n`);
    return 2;
  }
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // Reported below.
  }
  if (!isDir) {
    io.stderr(`whisper-ts history: ${dir}: no such folder\n`);
    return 1;
  }
  if (!existsSync(join(dir, HISTORY_FILE))) {
    io.stdout(o.json ? `${JSON.stringify({ rows: [] }, null, 2)}\n` : `no history yet (${HISTORY_FILE} is written by the daemon)\n`);
    return 0;
  }
  let rows: HistoryRow[];
  try {
    const store = openHistory(dir, { readOnly: true });
    try {
      rows = store.query(query);
    } finally {
      store.close();
    }
  } catch (err) {
    io.stderr(`whisper-ts history: ${errorMessage(err)}\n`);
    return 1;
  }
  if (o.json) {
    io.stdout(`${JSON.stringify({ rows }, null, 2)}\n`);
    return 0;
  }
  io.stdout(formatHistoryTable(rows));
  const last = rows.at(-1);
  if (last && rows.length === query.limit) io.stderr(`(${rows.length} events shown; older ones: --before ${last.id})\n`);
  return 0;
}
