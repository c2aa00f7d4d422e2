/**
 * docs/benchmarks.md's page: the title line, the result table, the machine, the "How measured"
 * sections in the order given, and the checks. The sections come from the row modules; this
 * file holds only the skeleton around them.
 */
import type { Machine } from './machine.ts';
import { markdownTable, type Row } from './report.ts';

export interface DocPage {
  /** When the run started, ISO 8601 to the second. */
  readonly date: string;
  readonly machine: Machine;
  /** The 1-minute load average just before the run. */
  readonly loadAtStart: number;
  readonly rows: readonly Row[];
  /** "How measured" sections in page order, each starting with its `### N.` heading. */
  readonly sections: readonly (readonly string[])[];
  readonly checks: readonly string[];
}

/** The whole page as Markdown; does not write it anywhere. */
export function renderDoc(page: DocPage): string {
  const { date, machine: m, loadAtStart, rows, sections, checks } = page;
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${date}. Every figure below comes from that one run; rerun the command rather than editing this file.`,
    '',
    markdownTable(rows),
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}`,
    `- Memory: ${m.memory}`,
    `- OS: ${m.os}`,
    `- Node: ${m.node}`,
    `- Date: ${date}`,
    `- Load average (1 min) just before the run: ${loadAtStart.toFixed(2)}. ` +
      'Other work on the machine moves every absolute figure; the two sides of each row are measured interleaved in the same run, so the ratios and differences move less.',
    '',
    '## How measured',
    '',
    ...sections.flatMap((section, index) => (index === 0 ? section : ['', ...section])),
    '',
    '## Checks',
    '',
    ...checks.map((line) => `- ${line}`),
    '',
  ];
  return lines.join('\n');
}
