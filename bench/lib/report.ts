/** Small statistics and the two renderings of the result table: plain text and Markdown. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function minMax(values: readonly number[]): { min: number; max: number } {
  return { min: Math.min(...values), max: Math.max(...values) };
}

/** "min–max" of the values, to `digits` decimals: the spread the doc gives next to a median. */
export function spread(values: readonly number[], digits: number): string {
  const { min, max } = minMax(values);
  return `${min.toFixed(digits)}–${max.toFixed(digits)}`;
}

export interface Row {
  readonly id: string;
  readonly what: string;
  readonly measured: string;
  readonly baseline: string;
  readonly comparison: string;
  readonly target: string;
  /** true / false for a row with a target, null for a context row. */
  readonly met: boolean | null;
}

const HEADERS = ['#', 'what', 'measured', 'baseline (same run)', 'ratio / diff', 'target', 'met'];

function cells(row: Row): string[] {
  return [row.id, row.what, row.measured, row.baseline, row.comparison, row.target, row.met === null ? 'context' : row.met ? 'yes' : 'NO'];
}

export function textTable(rows: readonly Row[]): string {
  const all = [HEADERS, ...rows.map(cells)];
  const widths = HEADERS.map((_, column) => Math.max(...all.map((line) => (line[column] as string).length)));
  const render = (line: string[]): string => line.map((cell, column) => cell.padEnd(widths[column] as number)).join(' | ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('-+-');
  return [render(HEADERS), rule, ...rows.map((row) => render(cells(row)))].join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${cells(row).map(escape).join(' | ')} |`),
  ].join('\n');
}

export const fmt = {
  ns: (value: number): string => `${value.toFixed(0)} ns/op`,
  ms: (value: number): string => `${value.toFixed(1)} ms`,
  signedMs: (value: number): string => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(1)} ms`,
  ratio: (value: number): string => `${value.toFixed(2)}×`,
  rate: (value: number): string => `${Math.round(value).toLocaleString('en-US')} rec/s`,
  eventRate: (value: number): string => `${Math.round(value).toLocaleString('en-US')} events/s`,
  nsPerEvent: (value: number): string => `${value.toFixed(0)} ns/event`,
  count: (value: number): string => value.toLocaleString('en-US'),
};
