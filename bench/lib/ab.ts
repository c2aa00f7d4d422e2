/**
 * What the A/B benchmarks (ab-events.ts, ab-ingest.ts) share: their command line, and runs of
 * this checkout against another in pairs whose order alternates, summed up as medians and as the
 * count of pairs in which this checkout was lower.
 */
import { resolve } from 'node:path';

import { median } from './report.ts';

export interface AbArgs {
  /** The other checkout, as given and resolved. */
  readonly other: string;
  readonly otherRoot: string;
  /** `--name=N`, or the fallback. */
  option(name: string, fallback: number): number;
  /** Whether `--name` was given. */
  flag(name: string): boolean;
}

/** The command line after `node <script>`: the other checkout and options; exits 2 with `usage` without one. */
export function abArgs(usage: string): AbArgs {
  const args = process.argv.slice(2);
  const other = args.find((arg) => !arg.startsWith('--'));
  if (other === undefined) {
    process.stderr.write(`usage: ${usage}\n`);
    process.exit(2);
  }
  return {
    other,
    otherRoot: resolve(other),
    option: (name, fallback) => Number(args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback),
    flag: (name) => args.includes(`--${name}`),
  };
}

/** One run's figure (µs per event) and what else a line of the pair shows after it. */
export interface AbRun {
  readonly us: number;
  readonly note?: string;
}

/**
 * Runs `pairs` pairs, this checkout's run and the other's, who goes first alternating (a machine
 * that slows down over the pairs weighs on both alike); prints each pair and the summary.
 */
export async function comparePairs(pairs: number, other: string, digits: number, here: () => Promise<AbRun>, there: () => Promise<AbRun>): Promise<void> {
  const results = { here: [] as number[], there: [] as number[] };
  let hereLower = 0;
  const shown = (run: AbRun): string => `${run.us.toFixed(digits)} µs/event${run.note === undefined ? '' : ` (${run.note})`}`;
  for (let pair = 0; pair < pairs; pair++) {
    let a: AbRun;
    let b: AbRun;
    if (pair % 2 === 0) {
      a = await here();
      b = await there();
    } else {
      b = await there();
      a = await here();
    }
    results.here.push(a.us);
    results.there.push(b.us);
    if (a.us < b.us) hereLower++;
    process.stdout.write(`pair ${pair + 1}: this checkout ${shown(a)}, ${other}: ${shown(b)}\n`);
  }
  const [a, b] = [median(results.here), median(results.there)];
  const ratios = results.here.map((us, index) => us / (results.there[index] as number));
  process.stdout.write(
    `median: this checkout ${a.toFixed(digits)} µs/event, ${other} ${b.toFixed(digits)} µs/event (${(a / b).toFixed(3)}×); this checkout lower in ${hereLower} of ${pairs} pairs ` +
      `(sign test p = ${signTestP(hereLower, pairs).toFixed(2)}; median of the pairs' ratios ${median(ratios).toFixed(3)}×)\n`,
  );
}

/**
 * Two-sided sign test: the chance that two builds of equal cost split `pairs` pairs at least as
 * unevenly as `lower` against the rest. On a machine whose runs spread ±10%, a median a few percent
 * apart means little unless this is small (about 0.05 or less).
 */
export function signTestP(lower: number, pairs: number): number {
  let ways = 1;
  let tail = 0;
  for (let k = 0; k <= Math.min(lower, pairs - lower); k++) {
    tail += ways;
    ways = (ways * (pairs - k)) / (k + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** pairs);
}
