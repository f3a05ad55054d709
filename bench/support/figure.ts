/**
 * One row of the `pnpm bench` table: a figure measured in this run, the anchor it is compared
 * with (when it has one), and whether its goal was met.
 */
export interface Figure {
  /** Short id, e.g. "P2" (a figure with two goals gives two rows, e.g. "P4 rps" and "P4 p99"). */
  id: string;
  /** What was measured, with its unit. */
  name: string;
  /** wamedia's value, in `unit`; undefined when the figure failed before measuring. */
  wamedia: number | undefined;
  unit: string;
  /** The anchor's value in the same unit; undefined for figures without one. */
  anchor?: number;
  /** wamedia / anchor, for figures with an anchor. */
  ratio?: number;
  /** The goal in words, e.g. "ratio ≥ 0.85" or "≤ 150 MiB". */
  goal: string;
  met: boolean;
  /** Anything else worth keeping in the JSON (per-process values, counts, settings). */
  details?: Record<string, unknown>;
  /** Why the figure failed, when it did. */
  error?: string;
}

/** Where a figure stands when a size or count was scaled down (BENCH_SCALE < 1). */
export function scaled(value: number, minimum = 1): number {
  return Math.max(minimum, Math.round(value * benchScale()));
}

/** BENCH_SCALE: 1 by default; e.g. 0.1 runs every figure on a tenth of its bytes or items. */
export function benchScale(): number {
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  if (!(scale > 0)) throw new Error(`BENCH_SCALE must be a number above 0, got ${process.env.BENCH_SCALE}`);
  return scale;
}

const DASH = '—';

function cell(value: number | undefined): string {
  if (value === undefined) return DASH;
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 3).replace(/\.?0+$/, '') || '0';
}

/** The table rows as printed: figure, wamedia, anchor, ratio, goal, met. */
export function tableRows(figures: Figure[]): Record<string, string>[] {
  return figures.map((f) => ({
    figure: `${f.id} ${f.name}`,
    wamedia: f.wamedia === undefined ? DASH : `${cell(f.wamedia)} ${f.unit}`,
    anchor: f.anchor === undefined ? DASH : `${cell(f.anchor)} ${f.unit}`,
    ratio: f.ratio === undefined ? DASH : f.ratio.toFixed(3),
    goal: f.goal,
    met: f.error ? `no (${f.error.split('\n')[0]!.slice(0, 60)})` : f.met ? 'yes' : 'no',
  }));
}

/** Prints figures as one table (columns padded, so it reads in any terminal and log). */
export function printTable(figures: Figure[]): void {
  const rows = tableRows(figures);
  const columns = ['figure', 'wamedia', 'anchor', 'ratio', 'goal', 'met'];
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => r[c]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join(' | ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) console.log(line(columns.map((c) => row[c]!)));
}

/** A figure that could not be measured. */
export function failedFigure(id: string, name: string, goal: string, error: unknown): Figure {
  const message = error instanceof Error ? error.message : String(error);
  return { id, name, wamedia: undefined, unit: '', goal, met: false, error: message };
}

/** p in [0, 1] of sorted `values`. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
