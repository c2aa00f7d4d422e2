/**
 * The result table's rows and the facts checked along the way (delivery, no drops), shared by
 * bench/run.ts and the row modules (bench/spans.ts); run.ts prints them and writes them to the doc.
 */
import type { Row } from './report.ts';

export const rows: Row[] = [];
export const checks: string[] = [];
/** The checks that failed, and children that exited badly: any of them makes the run exit 1. */
export const problems: string[] = [];

export function check(ok: boolean, text: string): void {
  checks.push(`${ok ? 'ok' : 'FAILED'}: ${text}`);
  if (!ok) problems.push(text);
}

export function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}
