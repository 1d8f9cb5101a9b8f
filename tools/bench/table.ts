export interface BenchRow {
  figure: string;
  value: number;
  unit: string;
  anchor?: string;
  anchorValue?: number;
  ratio?: number;
  goal?: string;
  met?: boolean;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

const fmt = (n: number | undefined): string =>
  n === undefined ? '' : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);

/** Change against the previous run's value of the same figure, e.g. `+4.1%`; empty when there is none. */
function change(value: number, previous: number | undefined): string {
  if (previous === undefined || !Number.isFinite(previous)) return '';
  if (previous === 0) return value === 0 ? '=' : 'new ≠ 0';
  const percent = ((value - previous) / Math.abs(previous)) * 100;
  return Math.abs(percent) < 0.05 ? '=' : `${percent > 0 ? '+' : '−'}${Math.abs(percent).toFixed(1)}%`;
}

/** One table; with `previous` (figure → value of the last run) a "vs previous" column too. */
export function renderTable(rows: readonly BenchRow[], previous?: ReadonlyMap<string, number>): string {
  const header = ['figure', 'value', 'anchor', 'anchor value', 'ratio', 'goal', 'met', ...(previous ? ['vs previous'] : [])];
  const body = rows.map((r) => [
    r.figure,
    `${fmt(r.value)} ${r.unit}`,
    r.anchor ?? '',
    r.anchorValue === undefined ? '' : `${fmt(r.anchorValue)} ${r.unit}`,
    r.ratio === undefined ? '' : `${fmt(r.ratio)}×`,
    r.goal ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ...(previous ? [change(r.value, previous.get(r.figure))] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
