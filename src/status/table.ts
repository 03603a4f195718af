/** A text table: a header row and cells padded so that columns line up; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    headers
      .map((_, i) => (i === headers.length - 1 ? (cells[i] ?? '') : (cells[i] ?? '').padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** A moment for tables: UTC, to the minute (`2026-04-01 12:30Z`); `-` when absent. */
export function formatTime(d: Date | undefined): string {
  if (!d) return '-';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}
